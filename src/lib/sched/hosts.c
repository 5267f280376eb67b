#include "hosts.h"
#include "grow.h"

#include "rng.h"

#include <stdlib.h>
#include <string.h>

static const char *host_key(void *ctx, uint32_t idx)
{
	const struct jg_hosts *h = ctx;
	return h->v[idx].name;
}

void jg_hosts_init(struct jg_hosts *h, unsigned per_host)
{
	memset(h, 0, sizeof *h);
	jg_idxset_init(&h->by_name, host_key, h);
	h->ring_head = h->ring_tail = JG_NONE;
	h->per_host = per_host;
}

void jg_hosts_fini(struct jg_hosts *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].name);
	free(h->v);
	free(h->next);
	free(h->heap);
	jg_idxset_fini(&h->by_name);
	memset(h, 0, sizeof *h);
}

uint32_t jg_hosts_intern(struct jg_hosts *h, const char *name)
{
	return jg_hosts_intern_new(h, name, NULL);
}

uint32_t jg_hosts_intern_new(struct jg_hosts *h, const char *name, int *created)
{
	uint32_t id = jg_idxset_find(&h->by_name, name, strlen(name));
	if (created)
		*created = id == JG_NONE;
	if (id != JG_NONE)
		return id;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct jg_host *v = realloc(h->v, cap * sizeof *v);
		if (!v)
			return JG_NONE;
		h->v = v;
		h->cap = cap;
	}
	struct jg_host *host = &h->v[h->n];
	memset(host, 0, sizeof *host);
	host->name = strdup(name);
	host->head = host->tail = host->ring_next = JG_NONE;
	host->per_host = host->limit = h->per_host;
	host->wait = h->wait;
	if (!host->name)
		return JG_NONE;
	id = (uint32_t)h->n;
	h->n++;
	if (jg_idxset_insert(&h->by_name, id) < 0) {
		h->n--;
		free(host->name);
		return JG_NONE;
	}
	return id;
}

static int has_work(const struct jg_host *host)
{
	return host->head != JG_NONE;
}

static int eligible(const struct jg_hosts *h, const struct jg_host *host)
{
	return has_work(host) && host->active < host->limit && !host->held;
}

void jg_hosts_set_limits(struct jg_hosts *h, uint32_t id, unsigned per_host, double wait)
{
	h->v[id].per_host = h->v[id].limit = per_host;
	h->v[id].wait = wait;
}

void jg_hosts_back_off(struct jg_hosts *h, uint32_t id, double retry_after)
{
	struct jg_host *host = &h->v[id];
	host->limit = host->limit > 1 ? host->limit / 2 : 1;
	host->ok_run = 0;
	if (retry_after > 0 && host->next_start < h->now + retry_after)
		host->next_start = h->now + retry_after;
}

void jg_hosts_answered(struct jg_hosts *h, uint32_t id)
{
	struct jg_host *host = &h->v[id];
	if (host->limit >= host->per_host || ++host->ok_run < JG_HOSTS_GROW_EVERY)
		return;
	host->limit++;
	host->ok_run = 0;
}

/* ---- pacing: a min-heap of sleeping hosts by the time they are due ---- */

static void heap_swap(struct jg_hosts *h, size_t a, size_t b)
{
	struct jg_host_sleeper t = h->heap[a];
	h->heap[a] = h->heap[b];
	h->heap[b] = t;
}

/* Puts `id` to sleep until its next start. 0, or -1 on ENOMEM. */
static int sleep_host(struct jg_hosts *h, uint32_t id)
{
	struct jg_host *host = &h->v[id];
	if (host->sleeping)
		return 0;
	if (jg_grow(&h->heap, &h->cap_heap, h->n_heap, sizeof *h->heap, 16) < 0)
		return -1;
	size_t i = h->n_heap++;
	h->heap[i] = (struct jg_host_sleeper){host->next_start, id};
	while (i > 0 && h->heap[(i - 1) / 2].at > h->heap[i].at) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	host->sleeping = 1;
	host->slept_at = h->now;
	return 0;
}

static void heap_pop(struct jg_hosts *h)
{
	h->heap[0] = h->heap[--h->n_heap];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n_heap && h->heap[l].at < h->heap[m].at)
			m = l;
		if (r < h->n_heap && h->heap[r].at < h->heap[m].at)
			m = r;
		if (m == i)
			break;
		heap_swap(h, i, m);
		i = m;
	}
}

static void ring_maybe_append(struct jg_hosts *h, uint32_t id);

void jg_hosts_wake(struct jg_hosts *h)
{
	while (h->n_heap && h->heap[0].at <= h->now) {
		uint32_t id = h->heap[0].id;
		heap_pop(h);
		h->v[id].sleeping = 0;
		h->v[id].waited += h->now - h->v[id].slept_at;
		ring_maybe_append(h, id);
	}
}

double jg_hosts_next_wake(const struct jg_hosts *h)
{
	return h->n_heap ? h->heap[0].at : 0;
}

static int due(const struct jg_hosts *h, const struct jg_host *host)
{
	return host->next_start <= h->now;
}

/* A request of `host` starts now (counted in `active`): the next may
 * start a wait later. */
static void started(struct jg_hosts *h, struct jg_host *host)
{
	host->requests++;
	if (host->active > host->active_max)
		host->active_max = host->active;
	host->undo_next_start = host->next_start;
	if (host->wait <= 0 && host->min_wait <= 0)
		return;
	double w = host->wait;
	if (h->random_wait && h->rng)
		w *= 0.5 + jg_rng_unit(h->rng);
	if (w < host->min_wait)
		w = host->min_wait;
	host->next_start = h->now + w;
}

static void ring_append(struct jg_hosts *h, uint32_t id)
{
	struct jg_host *host = &h->v[id];
	host->in_ring = 1;
	host->ring_next = JG_NONE;
	if (h->ring_tail == JG_NONE)
		h->ring_head = id;
	else
		h->v[h->ring_tail].ring_next = id;
	h->ring_tail = id;
}

static void ring_maybe_append(struct jg_hosts *h, uint32_t id)
{
	if (!h->v[id].in_ring && !h->v[id].sleeping && eligible(h, &h->v[id]))
		ring_append(h, id);
}

static uint32_t ring_shift(struct jg_hosts *h)
{
	uint32_t id = h->ring_head;
	if (id == JG_NONE)
		return id;
	h->ring_head = h->v[id].ring_next;
	if (h->ring_head == JG_NONE)
		h->ring_tail = JG_NONE;
	h->v[id].in_ring = 0;
	return id;
}

int jg_hosts_push_book(struct jg_hosts *h, uint32_t id, uint32_t book)
{
	if (book >= h->next_cap) {
		size_t cap = h->next_cap ? h->next_cap * 2 : 1024;
		while (cap <= book)
			cap *= 2;
		uint32_t *next = realloc(h->next, cap * sizeof *next);
		if (!next)
			return -1;
		h->next = next;
		h->next_cap = cap;
	}
	struct jg_host *host = &h->v[id];
	h->next[book] = JG_NONE;
	if (host->tail == JG_NONE)
		host->head = book;
	else
		h->next[host->tail] = book;
	host->tail = book;
	h->queued++;
	ring_maybe_append(h, id);
	return 0;
}

uint32_t jg_hosts_pop(struct jg_hosts *h, uint32_t *book)
{
	*book = JG_NONE;
	uint32_t id;
	for (;;) {
		id = ring_shift(h);
		if (id == JG_NONE)
			return JG_NONE;
		/* A host may have lost its work while it sat in the ring. */
		if (!eligible(h, &h->v[id]))
			continue;
		if (due(h, &h->v[id]))
			break;
		/* Not due: it sleeps (were the heap not to grow, it would wait in
		 * the ring, taken again at its turn). */
		if (sleep_host(h, id) < 0) {
			ring_append(h, id);
			return JG_NONE;
		}
	}
	struct jg_host *host = &h->v[id];
	*book = host->head;
	host->head = h->next[*book];
	if (host->head == JG_NONE)
		host->tail = JG_NONE;
	h->queued--;
	host->active++;
	started(h, host);
	ring_maybe_append(h, id);
	return id;
}

void jg_hosts_hold(struct jg_hosts *h, uint32_t id)
{
	h->v[id].held = 1; /* a pop that meets it in the ring passes it over */
}

void jg_hosts_release_hold(struct jg_hosts *h, uint32_t id)
{
	h->v[id].held = 0;
	ring_maybe_append(h, id);
}

void jg_hosts_unpop(struct jg_hosts *h, uint32_t id, uint32_t book)
{
	struct jg_host *host = &h->v[id];
	h->next[book] = host->head;
	host->head = book;
	if (host->tail == JG_NONE)
		host->tail = book;
	h->queued++;
	ring_maybe_append(h, id);
}

void jg_hosts_refund(struct jg_hosts *h, uint32_t id)
{
	struct jg_host *host = &h->v[id];
	host->next_start = host->undo_next_start;
	host->active--;
	host->requests--; /* none was made */
	ring_maybe_append(h, id);
}

void jg_hosts_set_min_wait(struct jg_hosts *h, uint32_t id, double seconds, double since)
{
	struct jg_host *host = &h->v[id];
	if (seconds > host->min_wait)
		host->min_wait = seconds;
	if (host->next_start < since + host->min_wait)
		host->next_start = since + host->min_wait;
}

void jg_hosts_release(struct jg_hosts *h, uint32_t id)
{
	h->v[id].active--;
	ring_maybe_append(h, id);
}

int jg_hosts_try_acquire(struct jg_hosts *h, uint32_t id)
{
	struct jg_host *host = &h->v[id];
	if (host->active >= host->limit)
		return 0;
	if (!due(h, host)) {
		sleep_host(h, id); /* its wake lets the caller try again */
		return 0;
	}
	host->active++;
	started(h, host);
	return 1;
}

void jg_hosts_book_done(struct jg_hosts *h, uint32_t id, int ok, uint64_t bytes)
{
	struct jg_host *host = &h->v[id];
	if (ok) {
		host->ok++;
		host->bytes += bytes;
	} else {
		host->failed++;
	}
}

void jg_hosts_drain_host(struct jg_hosts *h, uint32_t id, void (*fn)(void *ctx, uint32_t book),
                         void *ctx)
{
	/* The queue is taken whole first: `fn` may queue a book again, on
	 * this host or a new one (which may move the hosts' table). */
	uint32_t b = h->v[id].head;
	h->v[id].head = h->v[id].tail = JG_NONE;
	while (b != JG_NONE) {
		uint32_t next = h->next[b];
		h->queued--;
		fn(ctx, b);
		b = next;
	}
}

void jg_hosts_drain_books(struct jg_hosts *h, void (*fn)(void *ctx, uint32_t book), void *ctx)
{
	for (size_t i = 0; i < h->n; i++)
		jg_hosts_drain_host(h, (uint32_t)i, fn, ctx);
}
