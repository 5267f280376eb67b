#include "robots_gate.h"

#include "juggle.h"
#include "retry.h"
#include "url.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* What the gate knows of one origin. */
struct robots_site {
	struct jg_robots rules;     /* JG_ROBOTS_PARSED */
	char *why;                  /* JG_ROBOTS_UNREACHABLE: what went wrong */
	char *url;                  /* its robots.txt, as messages name it */
};

/* One origin's robots.txt on its way. */
struct robots_fetch {
	struct jg_robots_gate *g;
	struct robots_fetch *prev, *next;
	uint32_t host;
	int https;
	int resolving;              /* waiting on `dns` */
	int proxy_resolving;        /* waiting on `proxy_dns` */
	struct jg_resolve_req proxy_dns;
	const struct jg_proxy *proxy; /* the request's, NULL: direct */
	char *proxy_at;             /* its "host:port:addrs" for curl, NULL: a literal */
	int transferring;           /* `xfer` is curl's */
	struct jg_resolve_req dns;
	struct jg_transfer xfer;
	struct jg_url cur;          /* where the current request goes */
	char *origin;               /* "scheme://host:port": the cache's key */
	unsigned redirects;
	double started;             /* when its first request took the host's slot */
};

const char *jg_robots_state_name(enum jg_robots_state st)
{
	switch (st) {
	case JG_ROBOTS_UNKNOWN: return "unknown";
	case JG_ROBOTS_FETCHING: return "fetching";
	case JG_ROBOTS_ALLOW_ALL: return "allow-all";
	case JG_ROBOTS_PARSED: return "parsed";
	case JG_ROBOTS_UNREACHABLE: return "unreachable";
	}
	return "unknown";
}

int jg_robots_gate_init(struct jg_robots_gate *g, struct ev_loop *loop, struct jg_fetch *fetch,
                        struct jg_resolver *resolver, struct jg_hosts *hosts,
                        const struct jg_store *store, const char *user_agent,
                        jg_robots_ready_fn ready, void *ctx, char *why, size_t why_len)
{
	memset(g, 0, sizeof *g);
	g->loop = loop;
	g->fetch = fetch;
	g->resolver = resolver;
	g->hosts = hosts;
	g->ready = ready;
	g->ctx = ctx;
	g->cache.dirfd = -1;
	jg_robots_agent(user_agent, g->agent);
	int statefd = openat(store->dirfd, JG_STORE_STATE,
	                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (statefd < 0) {
		snprintf(why, why_len, "%s/%s: %s", store->dir, JG_STORE_STATE, strerror(errno));
		return -1;
	}
	int rc = jg_robots_cache_open(&g->cache, statefd, store->dir, why, why_len);
	close(statefd);
	return rc;
}

static void fetch_stop(struct robots_fetch *f)
{
	if (f->resolving)
		jg_resolver_cancel(f->g->resolver, &f->dns);
	if (f->proxy_resolving)
		jg_resolver_cancel(f->g->resolver, &f->proxy_dns);
	if (f->transferring)
		jg_fetch_cancel(&f->xfer);
	f->resolving = f->proxy_resolving = f->transferring = 0;
}

static void fetch_free(struct robots_fetch *f)
{
	struct jg_robots_gate *g = f->g;
	if (f->prev)
		f->prev->next = f->next;
	else
		g->fetches = f->next;
	if (f->next)
		f->next->prev = f->prev;
	g->fetching--;
	jg_url_fini(&f->cur);
	free(f->origin);
	free(f->proxy_at);
	free(f);
}

void jg_robots_gate_fini(struct jg_robots_gate *g)
{
	while (g->fetches) {
		fetch_stop(g->fetches);
		fetch_free(g->fetches);
	}
	for (size_t i = 0; i < g->n_sites; i++) {
		jg_robots_fini(&g->sites[i].rules);
		free(g->sites[i].why);
		free(g->sites[i].url);
	}
	free(g->sites);
	jg_robots_cache_close(&g->cache);
	memset(g, 0, sizeof *g);
	g->cache.dirfd = -1;
}

/* The record of `host`'s origin of that scheme, made on first use. */
static struct robots_site *site_of(struct jg_robots_gate *g, uint32_t host, int https)
{
	size_t want = 2 * ((size_t)host + 1);
	if (want > g->n_sites) {
		size_t n = g->n_sites ? g->n_sites : 32;
		while (n < want)
			n *= 2;
		struct robots_site *v = realloc(g->sites, n * sizeof *v);
		if (!v)
			return NULL;
		memset(v + g->n_sites, 0, (n - g->n_sites) * sizeof *v);
		g->sites = v;
		g->n_sites = n;
	}
	return &g->sites[2 * (size_t)host + (size_t)https];
}

static enum jg_robots_state *state_of(struct jg_robots_gate *g, uint32_t host, int https)
{
	return &g->hosts->v[host].robots[https];
}

static void set_unreachable(struct jg_robots_gate *g, uint32_t host, int https, const char *why)
{
	struct robots_site *site = site_of(g, host, https);
	if (site) {
		free(site->why);
		site->why = strdup(why);
	}
	*state_of(g, host, https) = JG_ROBOTS_UNREACHABLE;
}

/*
 * What an answer of `status` with `body` means for the origin; a 2xx's
 * Crawl-delay holds the host back from `since`, its last request.
 */
static void decide(struct jg_robots_gate *g, uint32_t host, int https, long status,
                   const char *body, size_t len, double since)
{
	struct robots_site *site = site_of(g, host, https);
	if (status >= 300 && status <= 499) {
		*state_of(g, host, https) = JG_ROBOTS_ALLOW_ALL;
		return;
	}
	if (!site || jg_robots_parse(&site->rules, body ? body : "", len, g->agent) < 0) {
		/* Rules we could not read might have refused anything. */
		set_unreachable(g, host, https, "out of memory reading it");
		return;
	}
	*state_of(g, host, https) = JG_ROBOTS_PARSED;
	double delay = site->rules.crawl_delay;
	if (delay > JG_ROBOTS_DELAY_MAX)
		delay = JG_ROBOTS_DELAY_MAX;
	if (delay > 0)
		jg_hosts_set_min_wait(g->hosts, host, delay, since);
}

/* The fetch is over, decided: the host's slot and turn come back. */
static void fetch_done(struct robots_fetch *f)
{
	struct jg_robots_gate *g = f->g;
	uint32_t host = f->host;
	fetch_free(f);
	jg_hosts_release(g->hosts, host);
	jg_hosts_release_hold(g->hosts, host);
	g->ready(g->ctx);
}

static void fetch_fail(struct robots_fetch *f, const char *why)
{
	set_unreachable(f->g, f->host, f->https, why);
	fetch_done(f);
}

static void fetch_attempt(struct robots_fetch *f);

static void fetch_send(struct robots_fetch *f, const char *addrs)
{
	struct jg_robots_gate *g = f->g;
	char resolve[JG_URL_MAX + 64];
	const char *entry = NULL;
	if (addrs) {
		snprintf(resolve, sizeof resolve, "%s:%ld:%s", f->cur.host, f->cur.port, addrs);
		entry = resolve;
	}
	struct jg_fetch_route route = {
		.resolve = entry,
		.proxy = f->proxy ? f->proxy->curl_url : NULL,
		.proxy_resolve = f->proxy_at,
	};
	if (jg_fetch_start(g->fetch, &f->xfer, f->cur.url, &route, -1, NULL, NULL) < 0) {
		char why[CURL_ERROR_SIZE + 16];
		snprintf(why, sizeof why, "%s", f->xfer.errbuf);
		fetch_fail(f, why);
		return;
	}
	f->transferring = 1;
	g->requests++;
}

static void on_resolved(struct jg_resolve_req *req, const char *addrs, const char *why,
                        int transient)
{
	struct robots_fetch *f = container_of(req, struct robots_fetch, dns);
	f->resolving = 0;
	if (addrs)
		fetch_send(f, addrs);
	else
		fetch_fail(f, why);
}

/* The server's address, when curl needs it: not through a proxy that
 * resolves names itself (http, https, socks5h), as the books do. */
static void fetch_resolve_server(struct robots_fetch *f)
{
	if (f->cur.is_ip || (f->proxy && !jg_proxy_wants_address(f->proxy))) {
		fetch_send(f, NULL);
		return;
	}
	const char *answer;
	int transient;
	f->dns.cb = on_resolved;
	f->resolving = 1;
	switch (jg_resolver_lookup(f->g->resolver, f->cur.host, f->cur.port, &f->dns, &answer,
	                           &transient)) {
	case JG_RESOLVE_DONE:
		f->resolving = 0;
		fetch_send(f, answer);
		break;
	case JG_RESOLVE_FAILED:
		f->resolving = 0;
		fetch_fail(f, answer);
		break;
	case JG_RESOLVE_PENDING:
		break;
	}
}

static void on_proxy_resolved(struct jg_resolve_req *req, const char *addrs, const char *why,
                              int transient)
{
	struct robots_fetch *f = container_of(req, struct robots_fetch, proxy_dns);
	f->proxy_resolving = 0;
	if (!addrs) {
		char text[600];
		snprintf(text, sizeof text, "proxy %s: %.400s", f->proxy->shown, why);
		fetch_fail(f, text);
		return;
	}
	if (asprintf(&f->proxy_at, "%s:%ld:%s", f->proxy->host, f->proxy->port, addrs) < 0) {
		f->proxy_at = NULL;
		fetch_fail(f, "out of memory");
		return;
	}
	fetch_resolve_server(f);
}

/* One request: its route (direct, or the proxy the books of that URL
 * take), the proxy's address on the loop, then the server's if need be. */
static void fetch_attempt(struct robots_fetch *f)
{
	free(f->proxy_at);
	f->proxy_at = NULL;
	f->proxy = f->g->proxies ? jg_proxies_route(f->g->proxies, &f->cur) : NULL;
	if (!f->proxy || f->proxy->is_ip) {
		fetch_resolve_server(f);
		return;
	}
	const char *answer;
	int transient;
	f->proxy_dns.cb = on_proxy_resolved;
	f->proxy_resolving = 1;
	switch (jg_resolver_lookup(f->g->resolver, f->proxy->host, f->proxy->port, &f->proxy_dns,
	                           &answer, &transient)) {
	case JG_RESOLVE_DONE:
		on_proxy_resolved(&f->proxy_dns, answer, NULL, 0);
		break;
	case JG_RESOLVE_FAILED:
		on_proxy_resolved(&f->proxy_dns, NULL, answer, transient);
		break;
	case JG_RESOLVE_PENDING:
		break;
	}
}

/* A 3xx: the next request, or (past the limit, or nowhere to go) as a 4xx. */
static void fetch_redirect(struct robots_fetch *f, const char *location)
{
	struct jg_url next;
	if (f->redirects >= JG_ROBOTS_REDIRECTS ||
	    jg_url_parse(location, &next, NULL, 0) != JG_OK) {
		*state_of(f->g, f->host, f->https) = JG_ROBOTS_ALLOW_ALL;
		fetch_done(f);
		return;
	}
	f->redirects++;
	jg_url_fini(&f->cur);
	f->cur = next;
	fetch_attempt(f);
}

/* The answer's body, as much of it as is read (in memory or spilled). */
static char *body_of(struct jg_transfer *t, size_t *len, int *owned)
{
	*owned = 0;
	size_t n = t->len > JG_ROBOTS_MAX_BYTES ? JG_ROBOTS_MAX_BYTES + 1 : t->len;
	*len = n;
	if (t->spill.fd < 0)
		return t->body;
	char *buf = malloc(n ? n : 1);
	ssize_t got = buf ? pread(t->spill.fd, buf, n, 0) : -1;
	if (got < 0) {
		free(buf);
		return NULL;
	}
	*len = (size_t)got;
	*owned = 1;
	return buf;
}

static void fetch_answered(struct robots_fetch *f, long status)
{
	struct jg_robots_gate *g = f->g;
	struct jg_transfer *t = &f->xfer;
	size_t len = 0;
	int owned = 0;
	const char *body = status >= 200 && status <= 299 ? body_of(t, &len, &owned) : NULL;
	if (status >= 200 && status <= 299 && !body && len) {
		jg_fetch_release(t);
		fetch_fail(f, "its body could not be read back");
		return;
	}
	len = body ? jg_robots_readable(body, len) : 0;
	decide(g, f->host, f->https, status, body, len, f->started);
	/* Kept for a day: only what is read of it; a 3xx that led nowhere is
	 * not worth keeping. */
	if (g->cache.dirfd >= 0 && (status <= 299 || status >= 400))
		jg_robots_cache_save(&g->cache, f->origin, ev_now(g->loop), status, body, len);
	if (owned)
		free((void *)(uintptr_t)body);
	jg_fetch_release(t);
	fetch_done(f);
}

static void fetch_finished(struct robots_fetch *f)
{
	struct jg_robots_gate *g = f->g;
	struct jg_transfer *t = &f->xfer;
	f->transferring = 0;
	long code = t->http_code;
	jg_hosts_set_now(g->hosts, ev_now(g->loop));
	if (code == 429 || code == 503)
		jg_hosts_back_off(g->hosts, f->host, t->retry_after);
	else if (code > 0)
		jg_hosts_answered(g->hosts, f->host);
	const char *location = t->code == CURLE_OK ? jg_fetch_redirect_url(t) : NULL;
	if (location) {
		char *copy = strdup(location);
		jg_fetch_release(t);
		if (!copy) {
			fetch_fail(f, "out of memory");
			return;
		}
		fetch_redirect(f, copy);
		free(copy);
		return;
	}
	/* A robots.txt past --max-size is read as far as it came. */
	int cut = t->aborted == JG_ABORT_TOO_LARGE && code >= 200 && code <= 299;
	if ((t->code == CURLE_OK || cut) && code >= 200 && code <= 499) {
		fetch_answered(f, code);
		return;
	}
	struct jg_attempt a = {
		.curl_code = t->code,
		.http_code = code,
		.stalled = t->stalled,
		.aborted = t->aborted,
		.abort_why = t->abort_why,
		.stall_timeout = g->fetch->cfg.stall_timeout,
		.max_size = g->fetch->cfg.max_size,
		.curl_error = t->errbuf,
	};
	char why[300];
	int transient;
	if (jg_retry_classify(&a, why, sizeof why, &transient) == JG_OK)
		snprintf(why, sizeof why, "HTTP %ld", code); /* a 1xx or past 599 */
	jg_fetch_release(t);
	fetch_fail(f, why);
}

int jg_robots_gate_take(struct jg_robots_gate *g, struct jg_transfer *t)
{
	/* A few in flight at most (one per host starting): a walk is enough. */
	for (struct robots_fetch *f = g->fetches; f; f = f->next)
		if (f->transferring && &f->xfer == t) {
			fetch_finished(f);
			return 1;
		}
	return 0;
}

/* "http://host:port", and how messages name its robots.txt. */
static int origin_of(const struct jg_url *u, char **origin, char **url)
{
	const char *scheme = u->is_https ? "https" : "http";
	long port = u->is_https ? 443 : 80;
	*url = NULL;
	if (asprintf(origin, "%s://%s:%ld", scheme, u->host, u->port) < 0) {
		*origin = NULL;
		return -1;
	}
	int n = u->port == port ? asprintf(url, "%s://%s/robots.txt", scheme, u->host)
	                        : asprintf(url, "%s://%s:%ld/robots.txt", scheme, u->host, u->port);
	if (n < 0) {
		free(*origin);
		*origin = *url = NULL;
		return -1;
	}
	return 0;
}

/*
 * Learns what `url`'s origin says, from the cache or by asking it. 1 when
 * that is known now; 0 when its robots.txt is being fetched.
 */
static int learn(struct jg_robots_gate *g, uint32_t host, int https, const char *url,
                 uint32_t book)
{
	struct robots_site *site = site_of(g, host, https);
	struct jg_url u;
	char reason[256];
	if (!site) {
		set_unreachable(g, host, https, "out of memory");
		return 1;
	}
	if (jg_url_parse(url, &u, reason, sizeof reason) != JG_OK) {
		set_unreachable(g, host, https, reason); /* it was parsed once: no more */
		return 1;
	}
	char *origin;
	int rc = origin_of(&u, &origin, &site->url);
	jg_url_fini(&u);
	if (rc < 0) {
		set_unreachable(g, host, https, "out of memory");
		return 1;
	}
	long status;
	char *body;
	size_t len;
	double now = ev_now(g->loop);
	if (g->cache.dirfd >= 0 && jg_robots_cache_load(&g->cache, origin, now, &status, &body, &len)) {
		g->cache_hits++;
		decide(g, host, https, status, body, len, now);
		free(body);
		free(origin);
		return 1;
	}
	struct robots_fetch *f = calloc(1, sizeof *f);
	if (!f || jg_url_parse(site->url, &f->cur, reason, sizeof reason) != JG_OK) {
		set_unreachable(g, host, https, f ? reason : "out of memory");
		free(f);
		free(origin);
		return 1;
	}
	f->g = g;
	f->host = host;
	f->https = https;
	f->origin = origin;
	f->started = now;
	f->next = g->fetches;
	if (g->fetches)
		g->fetches->prev = f;
	g->fetches = f;
	g->fetching++;
	*state_of(g, host, https) = JG_ROBOTS_FETCHING;
	/* Held before it starts: an answer known at once releases the host. */
	jg_hosts_hold(g->hosts, host);
	jg_hosts_unpop(g->hosts, host, book);
	fetch_attempt(f);
	return 0;
}

/* Why `path` is refused, for the book's report. */
static void refused_by(const struct robots_site *site, const struct jg_robots_rule *rule,
                       char *why, size_t why_len)
{
	const char *url = site->url ? site->url : "robots.txt";
	if (!rule) {
		snprintf(why, why_len, "disallowed by %s", url);
		return;
	}
	snprintf(why, why_len, "disallowed by %s (Disallow: %.*s%s)", url,
	         (int)(rule->len > 200 ? 200 : rule->len), site->rules.text + rule->off,
	         rule->len > 200 ? "..." : rule->anchored ? "$" : "");
}

enum jg_robots_verdict jg_robots_gate_check(struct jg_robots_gate *g, uint32_t host,
                                            uint32_t book, const char *url, char *why,
                                            size_t why_len)
{
	int https = strncmp(url, "https:", 6) == 0;
	enum jg_robots_state st = *state_of(g, host, https);
	if (st == JG_ROBOTS_UNKNOWN) {
		if (!learn(g, host, https, url, book))
			return JG_ROBOTS_WAIT;
		st = *state_of(g, host, https);
	}
	struct robots_site *site = site_of(g, host, https);
	switch (st) {
	case JG_ROBOTS_ALLOW_ALL:
		return JG_ROBOTS_GO;
	case JG_ROBOTS_PARSED: {
		size_t len;
		const char *path = jg_robots_url_path(url, &len);
		const struct jg_robots_rule *rule;
		int ok = jg_robots_allowed(&site->rules, path, len, &rule);
		if (ok == 1)
			return JG_ROBOTS_GO;
		if (ok < 0)
			snprintf(why, why_len, "out of memory checking %s", site->url);
		else
			refused_by(site, rule, why, why_len);
		break;
	}
	case JG_ROBOTS_UNREACHABLE:
		snprintf(why, why_len, "disallowed: %s unreachable (%s), so nothing of the host is "
		         "fetched this run", site && site->url ? site->url : "robots.txt",
		         site && site->why ? site->why : "out of memory");
		break;
	case JG_ROBOTS_UNKNOWN:
	case JG_ROBOTS_FETCHING:
		/* Another scheme's robots.txt of the host is on its way (the host
		 * is held, so this is only defence): back in line, slot returned. */
		jg_hosts_refund(g->hosts, host);
		jg_hosts_unpop(g->hosts, host, book);
		return JG_ROBOTS_WAIT;
	}
	jg_hosts_refund(g->hosts, host);
	return JG_ROBOTS_DENY;
}
