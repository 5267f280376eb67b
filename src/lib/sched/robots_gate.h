/*
 * The robots.txt gate (RFC 9309), when the session keeps to it: before
 * the first URL of an origin (scheme, host and port) is requested, its
 * /robots.txt is, once; every URL of it is then let through or refused by
 * those rules at admission.
 *
 * The fetch is an ordinary request of its host, on the loop: the session
 * pops a book from the host's queue as usual, and when the host's rules
 * are not known yet the gate puts that book back and spends the slot and
 * pacing start it took on the robots.txt instead (through the same
 * resolver, CURLOPT_RESOLVE and curl multi as books). Until the answer
 * comes the host is held: its books wait, none fails. Then:
 *   2xx            the rules are read (robots.h); Crawl-delay, capped at
 *                  JG_ROBOTS_DELAY_MAX, becomes a floor under the host's
 *                  wait, from the robots.txt request on;
 *   3xx            followed, JG_ROBOTS_REDIRECTS times at most; past
 *                  that, as a 4xx (RFC 9309 2.3.1.2);
 *   4xx            everything is allowed (RFC 9309 2.3.1.3);
 *   5xx, no answer (connect, DNS, timeout, TLS, a broken transfer)
 *                  everything of the origin is refused for the rest of the
 *                  session (2.3.1.4), each URL naming robots.txt and why.
 * A 429 or 503 also slows the host down as any answer of those does.
 * 2xx and 4xx answers are kept in DIR/.juggle/robots for 24 hours
 * (robots_cache.h): a run within that time asks nothing.
 *
 * A refused book is never requested: it gives its slot and pacing start
 * back, and the session reports it with JG_EROBOTS. What the gate knows
 * of a host is in its record (jg_host.robots, per scheme).
 *
 * Not checked: the target of a book's redirect to another origin (the
 * book's own origin was).
 */
#ifndef JG_ROBOTS_GATE_H
#define JG_ROBOTS_GATE_H

#include <ev.h>
#include <stdint.h>

#include "fetch.h"
#include "hosts.h"
#include "proxy.h"
#include "resolve.h"
#include "robots.h"
#include "robots_cache.h"
#include "store.h"

#define JG_ROBOTS_DELAY_MAX 30.0
#define JG_ROBOTS_REDIRECTS 5

struct robots_site;
struct robots_fetch;

/* A host's robots.txt was decided: admission may go on. */
typedef void (*jg_robots_ready_fn)(void *ctx);

struct jg_robots_gate {
	struct ev_loop *loop;
	struct jg_fetch *fetch;
	struct jg_resolver *resolver;
	struct jg_hosts *hosts;
	const struct jg_proxies *proxies;    /* the books' proxies: robots.txt goes the same way */
	struct jg_robots_cache cache;
	char agent[JG_ROBOTS_AGENT_MAX + 1]; /* the product token groups are matched on */
	struct robots_site *sites;           /* 2 per host id: http, https */
	size_t n_sites;
	struct robots_fetch *fetches;        /* in flight */
	unsigned fetching;                   /* how many: they count as transfers */
	uint64_t requests;                   /* robots.txt requests made */
	uint64_t cache_hits;                 /* origins answered from the cache */
	jg_robots_ready_fn ready;
	void *ctx;
};

/*
 * Sets the gate up for a session's services (borrowed) and output
 * directory `store` (its lock held); `user_agent` is the User-Agent sent,
 * whose product token picks the groups. 0, or -1 with `why`.
 */
int jg_robots_gate_init(struct jg_robots_gate *g, struct ev_loop *loop, struct jg_fetch *fetch,
                        struct jg_resolver *resolver, struct jg_hosts *hosts,
                        const struct jg_store *store, const char *user_agent,
                        jg_robots_ready_fn ready, void *ctx, char *why, size_t why_len);
/* Stops every robots.txt fetch (no callback) and frees the rules. */
void jg_robots_gate_fini(struct jg_robots_gate *g);

enum jg_robots_verdict {
	JG_ROBOTS_GO,    /* request it */
	JG_ROBOTS_WAIT,  /* put back in its queue: the host's robots.txt is fetched */
	JG_ROBOTS_DENY,  /* refused, `why` says by what; its slot is given back */
};

/*
 * The verdict on book `book` of `url`, just popped from host `host` (its
 * slot and pacing start taken). Calls no callback.
 */
enum jg_robots_verdict jg_robots_gate_check(struct jg_robots_gate *g, uint32_t host,
                                            uint32_t book, const char *url, char *why,
                                            size_t why_len);

/*
 * The fetch's done callback goes through here first: 1 when `t` was a
 * robots.txt transfer (then handled), 0 when it is someone else's.
 */
int jg_robots_gate_take(struct jg_robots_gate *g, struct jg_transfer *t);

/* "unknown", "fetching", "allow-all", "parsed", "unreachable". */
const char *jg_robots_state_name(enum jg_robots_state st);

#endif
