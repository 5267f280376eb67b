/*
 * Name resolution on the caller's loop. Debian's libcurl resolves in a
 * helper thread per lookup; juggle instead asks c-ares, whose sockets and
 * timeouts are libev watchers, and hands the addresses to curl through
 * CURLOPT_RESOLVE. Answers are cached per host name for their TTL.
 */
#ifndef JG_RESOLVE_H
#define JG_RESOLVE_H

#include <ares.h>
#include <ev.h>
#include <stdint.h>

#include "idxset.h"

struct jg_resolve_req;
/*
 * `addrs` is curl's form ("1.2.3.4,[::1]") on success, NULL on failure with
 * `why` saying what went wrong; both are valid only during the call.
 * `transient` tells a failure worth retrying (timeout, server failure).
 */
typedef void (*jg_resolve_cb)(struct jg_resolve_req *req, const char *addrs, const char *why,
                              int transient);

/* Caller-owned; embedded in whatever waits for the answer. */
struct jg_resolve_req {
	struct jg_resolve_req *next;
	jg_resolve_cb cb;
	uint32_t entry;
};

struct jg_resolver {
	struct ev_loop *loop;
	ares_channel channel;
	ev_timer timer;
	struct resolver_sock *socks;
	struct resolver_entry *entries;
	size_t n, cap;
	struct jg_idxset by_name;
	char **pins;              /* "host:port:addrs" from --resolve */
	size_t n_pins;
	int destroying;
	uint64_t lookups;         /* queries sent, for tests and stats */
};

/* 0, or -1 with `why` filled. `servers` may be NULL (system's). */
int jg_resolver_init(struct jg_resolver *r, struct ev_loop *loop, const char *servers,
                     char *why, size_t why_len);
/* Stops every watcher; pending requests get no callback. */
void jg_resolver_fini(struct jg_resolver *r);
/* Pins "host:port:addrs" (curl's --resolve form, already validated). */
int jg_resolver_pin(struct jg_resolver *r, const char *entry);

enum jg_resolve_status { JG_RESOLVE_DONE, JG_RESOLVE_PENDING, JG_RESOLVE_FAILED };

/*
 * Looks `host` up. DONE: `*addrs` holds the answer (valid until control
 * returns to the loop). FAILED: `*addrs` holds the reason and `*transient`
 * is set. PENDING: `req->cb` fires later, exactly once, unless cancelled.
 */
enum jg_resolve_status jg_resolver_lookup(struct jg_resolver *r, const char *host, long port,
                                          struct jg_resolve_req *req, const char **addrs,
                                          int *transient);
void jg_resolver_cancel(struct jg_resolver *r, struct jg_resolve_req *req);

#endif
