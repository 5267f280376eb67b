#include "shm.h"

#include "grow.h"

#include <assert.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Every allocation starts with a header (its length, a check word) and is
 * a whole number of pages: a freed one can be given back page by page,
 * and the runs stay few. Bodies below the pool's threshold never come
 * here, so the rounding wastes little.
 */
enum { PAGE = 4096, HEADER = 64 };
#define MAGIC UINT64_C(0x6a75676773686d31) /* "juggshm1" */
/* Below this the pages stay resident once touched (see shm.h). */
#define WARM ((uint64_t)16 << 20)

struct header {
	uint64_t total;           /* header and body, a multiple of PAGE */
	uint64_t magic;
};

struct run {
	uint64_t off, len;
};

struct jg_shm {
	int fd;
	uint8_t *base;
	uint64_t size;
	uint64_t used;
	struct run *runs;         /* free runs, by offset, never adjacent */
	size_t n_runs, cap_runs;
};

static uint64_t round_up(uint64_t n)
{
	return (n + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

struct jg_shm *jg_shm_new(size_t size)
{
	struct jg_shm *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->size = round_up(size);
	s->fd = memfd_create("juggle-bodies", MFD_CLOEXEC);
	if (s->fd < 0)
		goto fail;
	if (ftruncate(s->fd, (off_t)s->size) < 0)
		goto fail_fd;
	/* NORESERVE: the region is a ceiling, not a commitment. */
	void *m = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, s->fd, 0);
	if (m == MAP_FAILED)
		goto fail_fd;
	s->base = m;
	s->runs = malloc(sizeof *s->runs);
	if (!s->runs)
		goto fail_map;
	s->runs[0] = (struct run){0, s->size};
	s->n_runs = s->cap_runs = 1;
	return s;
fail_map:
	munmap(s->base, s->size);
fail_fd:
	close(s->fd);
fail:
	free(s);
	return NULL;
}

void jg_shm_free(struct jg_shm *s)
{
	if (!s)
		return;
	munmap(s->base, s->size);
	close(s->fd);
	free(s->runs);
	free(s);
}

void jg_shm_unmap(struct jg_shm *s)
{
	munmap(s->base, s->size);
}

int jg_shm_fd(const struct jg_shm *s)
{
	return s->fd;
}

int jg_shm_owns(const struct jg_shm *s, const void *p)
{
	const uint8_t *b = p;
	return s && b >= s->base + HEADER && b < s->base + s->size;
}

uint64_t jg_shm_offset(const struct jg_shm *s, const void *p)
{
	return (uint64_t)((const uint8_t *)p - s->base);
}

/* A body's header; anything else here is the caller's bug. */
static struct header *header_of(void *p)
{
	struct header *h = (struct header *)(void *)((uint8_t *)p - HEADER);
	assert(h->magic == MAGIC);
	return h;
}

/* The first run at or after `off`. */
static size_t run_at(const struct jg_shm *s, uint64_t off)
{
	size_t lo = 0, hi = s->n_runs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->runs[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Takes `len` bytes from the front of run `i`. */
static void take_front(struct jg_shm *s, size_t i, uint64_t len)
{
	s->runs[i].off += len;
	s->runs[i].len -= len;
	if (s->runs[i].len == 0) {
		memmove(&s->runs[i], &s->runs[i + 1], (s->n_runs - i - 1) * sizeof *s->runs);
		s->n_runs--;
	}
}

static void *place(struct jg_shm *s, uint64_t off, uint64_t total)
{
	struct header *h = (struct header *)(void *)(s->base + off);
	h->total = total;
	h->magic = MAGIC;
	s->used += total;
	return s->base + off + HEADER;
}

void *jg_shm_alloc(struct jg_shm *s, size_t n)
{
	if (n > s->size)
		return NULL;
	uint64_t total = round_up((uint64_t)n + HEADER);
	/* First fit keeps the work low in the region, where pages are warm. */
	for (size_t i = 0; i < s->n_runs; i++) {
		if (s->runs[i].len >= total) {
			uint64_t off = s->runs[i].off;
			take_front(s, i, total);
			return place(s, off, total);
		}
	}
	return NULL;
}

/* Gives pages above the warm part back to the kernel. */
static void give_back(struct jg_shm *s, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	if (end <= WARM)
		return;
	if (off < WARM)
		off = WARM;
	/* Best effort: a kernel that cannot punch keeps the pages. */
	(void)fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
	                (off_t)(end - off));
}

void jg_shm_release(struct jg_shm *s, void *p)
{
	if (!p)
		return;
	struct header *h = header_of(p);
	uint64_t off = (uint64_t)((uint8_t *)h - s->base), len = h->total;
	h->magic = 0;
	s->used -= len;
	give_back(s, off, len);
	size_t i = run_at(s, off);
	int join_prev = i > 0 && s->runs[i - 1].off + s->runs[i - 1].len == off;
	int join_next = i < s->n_runs && off + len == s->runs[i].off;
	if (join_prev && join_next) {
		s->runs[i - 1].len += len + s->runs[i].len;
		memmove(&s->runs[i], &s->runs[i + 1], (s->n_runs - i - 1) * sizeof *s->runs);
		s->n_runs--;
	} else if (join_prev) {
		s->runs[i - 1].len += len;
	} else if (join_next) {
		s->runs[i].off = off;
		s->runs[i].len += len;
	} else {
		/* A run more; should its array not grow, the pages are lost to
		 * this run (never handed out twice), not to the program. */
		if (jg_grow(&s->runs, &s->cap_runs, s->n_runs, sizeof *s->runs, 16) < 0)
			return;
		memmove(&s->runs[i + 1], &s->runs[i], (s->n_runs - i) * sizeof *s->runs);
		s->runs[i] = (struct run){off, len};
		s->n_runs++;
	}
}

void *jg_shm_realloc(struct jg_shm *s, void *p, size_t n)
{
	if (!p)
		return jg_shm_alloc(s, n);
	struct header *h = header_of(p);
	uint64_t off = (uint64_t)((uint8_t *)h - s->base), old = h->total;
	uint64_t total = round_up((uint64_t)n + HEADER);
	if (total <= old)
		return p;
	size_t i = run_at(s, off + old);
	if (i < s->n_runs && s->runs[i].off == off + old && s->runs[i].len >= total - old) {
		take_front(s, i, total - old);
		h->total = total;
		s->used += total - old;
		return p;
	}
	void *q = jg_shm_alloc(s, n);
	if (!q)
		return NULL;
	memcpy(q, p, old - HEADER);
	jg_shm_release(s, p);
	return q;
}

void jg_body_free(struct jg_shm *s, void *p)
{
	if (jg_shm_owns(s, p))
		jg_shm_release(s, p);
	else
		free(p);
}

uint64_t jg_shm_used(const struct jg_shm *s)
{
	return s->used;
}

size_t jg_shm_free_runs(const struct jg_shm *s)
{
	return s->n_runs;
}
