#include "resolve.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* c-ares reports a TTL of 0 for /etc/hosts answers; keep them a while. */
enum { TTL_FLOOR = 1, TTL_CEILING = 3600 };

struct resolver_sock {
	ev_io io;
	struct jg_resolver *r;
	struct resolver_sock *next;
};

struct resolver_entry {
	char *name;
	char *addrs;              /* curl's form; NULL when unknown or failed */
	ev_tstamp expires;
	int pending;
	int transient;
	char why[160];
	struct jg_resolve_req *waiters;
};

static const char *entry_key(void *ctx, uint32_t idx)
{
	const struct jg_resolver *r = ctx;
	return r->entries[idx].name;
}

static void arm_timer(struct jg_resolver *r)
{
	struct timeval tv;
	ev_timer_stop(r->loop, &r->timer);
	if (ares_timeout(r->channel, NULL, &tv)) {
		ev_timer_set(&r->timer, (double)tv.tv_sec + tv.tv_usec / 1e6, 0.);
		ev_timer_start(r->loop, &r->timer);
	}
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct jg_resolver *r = w->data;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	arm_timer(r);
}

static void on_sock(struct ev_loop *loop, ev_io *w, int revents)
{
	struct resolver_sock *s = w->data;
	struct jg_resolver *r = s->r;
	int fd = w->fd;
	ares_process_fd(r->channel, (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
	                (revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	arm_timer(r);
}

static struct resolver_sock **find_sock(struct jg_resolver *r, int fd)
{
	struct resolver_sock **p = &r->socks;
	while (*p && (*p)->io.fd != fd)
		p = &(*p)->next;
	return p;
}

/* c-ares tells which of its sockets it wants watched, and for what. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct jg_resolver *r = data;
	struct resolver_sock **p = find_sock(r, fd);
	struct resolver_sock *s = *p;
	if (!readable && !writable) {
		if (s) {
			ev_io_stop(r->loop, &s->io);
			*p = s->next;
			free(s);
		}
		return;
	}
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return; /* the query times out and fails cleanly */
		s->r = r;
		s->next = r->socks;
		r->socks = s;
		ev_init(&s->io, on_sock);
		s->io.data = s;
	}
	ev_io_stop(r->loop, &s->io);
	ev_io_set(&s->io, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
	ev_io_start(r->loop, &s->io);
}

int jg_resolver_init(struct jg_resolver *r, struct ev_loop *loop, const char *servers,
                     char *why, size_t why_len)
{
	memset(r, 0, sizeof *r);
	r->loop = loop;
	jg_idxset_init(&r->by_name, entry_key, r);
	ev_timer_init(&r->timer, on_timer, 0., 0.);
	r->timer.data = r;
	struct ares_options o;
	memset(&o, 0, sizeof o);
	o.sock_state_cb = on_sock_state;
	o.sock_state_cb_data = r;
	o.timeout = 2000;
	o.tries = 3;
	int rc = ares_init_options(&r->channel, &o,
	                           ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		snprintf(why, why_len, "c-ares: %s", ares_strerror(rc));
		r->loop = NULL; /* tells fini there is nothing to undo */
		return -1;
	}
	if (servers && (rc = ares_set_servers_ports_csv(r->channel, servers)) != ARES_SUCCESS) {
		snprintf(why, why_len, "DNS servers '%s': %s", servers, ares_strerror(rc));
		ares_destroy(r->channel);
		r->loop = NULL;
		return -1;
	}
	return 0;
}

void jg_resolver_fini(struct jg_resolver *r)
{
	r->destroying = 1;
	ares_destroy(r->channel);
	ev_timer_stop(r->loop, &r->timer);
	while (r->socks) {
		struct resolver_sock *s = r->socks;
		ev_io_stop(r->loop, &s->io);
		r->socks = s->next;
		free(s);
	}
	for (size_t i = 0; i < r->n; i++) {
		free(r->entries[i].name);
		free(r->entries[i].addrs);
	}
	free(r->entries);
	for (size_t i = 0; i < r->n_pins; i++)
		free(r->pins[i]);
	free(r->pins);
	jg_idxset_fini(&r->by_name);
}

int jg_resolver_pin(struct jg_resolver *r, const char *entry)
{
	char **pins = realloc(r->pins, (r->n_pins + 1) * sizeof *pins);
	if (!pins)
		return -1;
	r->pins = pins;
	if (!(pins[r->n_pins] = strdup(entry)))
		return -1;
	r->n_pins++;
	return 0;
}

/* The addresses pinned for host:port, or NULL. */
static const char *pinned(const struct jg_resolver *r, const char *host, long port)
{
	size_t hl = strlen(host);
	for (size_t i = 0; i < r->n_pins; i++) {
		const char *p = r->pins[i];
		char *end;
		if (strncasecmp(p, host, hl) != 0 || p[hl] != ':')
			continue;
		if (strtol(p + hl + 1, &end, 10) == port && *end == ':')
			return end + 1;
	}
	return NULL;
}

static uint32_t intern(struct jg_resolver *r, const char *host)
{
	uint32_t id = jg_idxset_find(&r->by_name, host, strlen(host));
	if (id != UINT32_MAX)
		return id;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct resolver_entry *e = realloc(r->entries, cap * sizeof *e);
		if (!e)
			return UINT32_MAX;
		r->entries = e;
		r->cap = cap;
	}
	struct resolver_entry *e = &r->entries[r->n];
	memset(e, 0, sizeof *e);
	if (!(e->name = strdup(host)))
		return UINT32_MAX;
	id = (uint32_t)r->n++;
	if (jg_idxset_insert(&r->by_name, id) < 0) {
		free(e->name);
		r->n--;
		return UINT32_MAX;
	}
	return id;
}

static int append_addr(char **list, const struct sockaddr *sa)
{
	char text[INET6_ADDRSTRLEN + 2];
	char ip[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, ip, sizeof ip);
		snprintf(text, sizeof text, "%s", ip);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, ip, sizeof ip);
		snprintf(text, sizeof text, "[%s]", ip);
	} else {
		return 0;
	}
	size_t old = *list ? strlen(*list) : 0;
	if (*list) { /* skip an address already listed */
		char *hit = strstr(*list, text);
		size_t tl = strlen(text);
		if (hit && (hit == *list || hit[-1] == ',') && (hit[tl] == ',' || hit[tl] == '\0'))
			return 0;
	}
	char *grown = realloc(*list, old + strlen(text) + 2);
	if (!grown)
		return -1;
	sprintf(grown + old, "%s%s", old ? "," : "", text);
	*list = grown;
	return 0;
}

static int is_transient(int status)
{
	return status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED ||
	       status == ARES_ESERVFAIL || status == ARES_ENOMEM;
}

static void store_answer(struct jg_resolver *r, struct resolver_entry *e, int status,
                         struct ares_addrinfo *res)
{
	free(e->addrs);
	e->addrs = NULL;
	int ttl = TTL_CEILING;
	for (struct ares_addrinfo_node *n = res ? res->nodes : NULL; n; n = n->ai_next) {
		if (append_addr(&e->addrs, n->ai_addr) < 0) {
			status = ARES_ENOMEM;
			break;
		}
		if (n->ai_ttl < ttl)
			ttl = n->ai_ttl;
	}
	if (status == ARES_SUCCESS && !e->addrs)
		status = ARES_ENODATA;
	if (status != ARES_SUCCESS) {
		free(e->addrs);
		e->addrs = NULL;
		e->transient = is_transient(status);
		snprintf(e->why, sizeof e->why, "DNS: %s: %s", e->name, ares_strerror(status));
		return;
	}
	e->expires = ev_now(r->loop) + (ttl < TTL_FLOOR ? TTL_FLOOR : ttl);
}

/* What a query in flight needs back: entries may move when the array grows. */
struct query {
	struct jg_resolver *r;
	uint32_t entry;
};

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct query *q = arg;
	struct jg_resolver *r = q->r;
	uint32_t id = q->entry;
	free(q);
	(void)timeouts;
	if (r->destroying) {
		ares_freeaddrinfo(res);
		return;
	}
	struct resolver_entry *e = &r->entries[id];
	store_answer(r, e, status, res);
	ares_freeaddrinfo(res);
	e->pending = 0;
	/* Detach first: a waiter's callback may start another lookup. */
	struct jg_resolve_req *w = e->waiters;
	e->waiters = NULL;
	while (w) {
		struct jg_resolve_req *next = w->next;
		e = &r->entries[id];
		if (e->addrs)
			w->cb(w, e->addrs, NULL, 0);
		else
			w->cb(w, NULL, e->why, e->transient);
		w = next;
	}
}

static void start_query(struct jg_resolver *r, uint32_t id)
{
	struct resolver_entry *e = &r->entries[id];
	struct query *q = malloc(sizeof *q);
	if (!q) {
		store_answer(r, e, ARES_ENOMEM, NULL);
		return;
	}
	q->r = r;
	q->entry = id;
	struct ares_addrinfo_hints hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	e->pending = 1;
	r->lookups++;
	ares_getaddrinfo(r->channel, e->name, NULL, &hints, on_answer, q);
	arm_timer(r);
}

enum jg_resolve_status jg_resolver_lookup(struct jg_resolver *r, const char *host, long port,
                                          struct jg_resolve_req *req, const char **addrs,
                                          int *transient)
{
	*transient = 0;
	if ((*addrs = pinned(r, host, port)) != NULL)
		return JG_RESOLVE_DONE;
	uint32_t id = intern(r, host);
	if (id == UINT32_MAX) {
		*addrs = "DNS: out of memory";
		*transient = 1;
		return JG_RESOLVE_FAILED;
	}
	struct resolver_entry *e = &r->entries[id];
	if (e->addrs && ev_now(r->loop) < e->expires) {
		*addrs = e->addrs;
		return JG_RESOLVE_DONE;
	}
	if (!e->pending) {
		start_query(r, id);
		e = &r->entries[id];
		/* c-ares answers some names (hosts file, literals) at once. */
		if (!e->pending) {
			*addrs = e->addrs ? e->addrs : e->why;
			*transient = e->transient;
			return e->addrs ? JG_RESOLVE_DONE : JG_RESOLVE_FAILED;
		}
	}
	req->entry = id;
	req->next = e->waiters;
	e->waiters = req;
	return JG_RESOLVE_PENDING;
}

void jg_resolver_cancel(struct jg_resolver *r, struct jg_resolve_req *req)
{
	struct jg_resolve_req **p = &r->entries[req->entry].waiters;
	while (*p && *p != req)
		p = &(*p)->next;
	if (*p)
		*p = req->next;
}
