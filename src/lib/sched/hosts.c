#include "hosts.h"

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
	jg_idxset_fini(&h->by_name);
	memset(h, 0, sizeof *h);
}

uint32_t jg_hosts_intern(struct jg_hosts *h, const char *name)
{
	uint32_t id = jg_idxset_find(&h->by_name, name, strlen(name));
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
	return has_work(host) && host->active < h->per_host;
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
	if (!h->v[id].in_ring && eligible(h, &h->v[id]))
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
	do /* a host may have lost its work while it sat in the ring */
		id = ring_shift(h);
	while (id != JG_NONE && !eligible(h, &h->v[id]));
	if (id == JG_NONE)
		return JG_NONE;
	struct jg_host *host = &h->v[id];
	*book = host->head;
	host->head = h->next[*book];
	if (host->head == JG_NONE)
		host->tail = JG_NONE;
	h->queued--;
	host->active++;
	ring_maybe_append(h, id);
	return id;
}

void jg_hosts_release(struct jg_hosts *h, uint32_t id)
{
	h->v[id].active--;
	ring_maybe_append(h, id);
}

int jg_hosts_try_acquire(struct jg_hosts *h, uint32_t id)
{
	if (h->v[id].active >= h->per_host)
		return 0;
	h->v[id].active++;
	return 1;
}

void jg_hosts_drain_host(struct jg_hosts *h, uint32_t id, void (*fn)(void *ctx, uint32_t book),
                         void *ctx)
{
	struct jg_host *host = &h->v[id];
	while (host->head != JG_NONE) {
		uint32_t b = host->head;
		host->head = h->next[b];
		h->queued--;
		fn(ctx, b);
	}
	host->tail = JG_NONE;
}

void jg_hosts_drain_books(struct jg_hosts *h, void (*fn)(void *ctx, uint32_t book), void *ctx)
{
	for (size_t i = 0; i < h->n; i++)
		jg_hosts_drain_host(h, (uint32_t)i, fn, ctx);
}
