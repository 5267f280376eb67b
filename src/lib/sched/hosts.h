/*
 * Admission order: URLs wait in per-host queues, and hosts that may start
 * another transfer (work waiting, fewer than per-host transfers running)
 * sit in a ring served round-robin. Every operation is O(1), so a million
 * queued URLs cost nothing per admission.
 */
#ifndef JG_HOSTS_H
#define JG_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#include "idxset.h"

struct jg_host {
	char *name;
	unsigned active;            /* admitted and not yet released */
	unsigned failures_in_row;   /* unreachable attempts since the last answer */
	uint32_t head, tail;        /* queued book indices */
	uint32_t ring_next;
	int in_ring;
};

struct jg_hosts {
	struct jg_host *v;
	size_t n, cap;
	struct jg_idxset by_name;
	uint32_t *next;             /* per book index: the next queued book */
	size_t next_cap;
	uint32_t ring_head, ring_tail;
	unsigned per_host;
	uint64_t queued;            /* books waiting in all queues */
};

void jg_hosts_init(struct jg_hosts *h, unsigned per_host);
void jg_hosts_fini(struct jg_hosts *h);
/* The id of host `name`, created on first use; JG_NONE on ENOMEM. */
uint32_t jg_hosts_intern(struct jg_hosts *h, const char *name);
/* Queues book `book` behind host `host`. 0, or -1 on ENOMEM. */
int jg_hosts_push_book(struct jg_hosts *h, uint32_t host, uint32_t book);

/*
 * Takes the next admissible book into `*book` and counts it as active on
 * its host, whose id it returns; JG_NONE when nothing is admissible.
 */
uint32_t jg_hosts_pop(struct jg_hosts *h, uint32_t *book);
/* One admitted book of `host` is finished with. */
void jg_hosts_release(struct jg_hosts *h, uint32_t host);
/* Takes a slot of `host` for a book admitted before (a retry): 1, or 0
 * when the host has per-host transfers already. */
int jg_hosts_try_acquire(struct jg_hosts *h, uint32_t host);
/* Removes every queued book of `host`, calling `fn` for each. */
void jg_hosts_drain_host(struct jg_hosts *h, uint32_t host,
                         void (*fn)(void *ctx, uint32_t book), void *ctx);
/* Removes every queued book, calling `fn` for each, in queue order. */
void jg_hosts_drain_books(struct jg_hosts *h, void (*fn)(void *ctx, uint32_t book), void *ctx);

#endif
