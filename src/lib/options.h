/* The session's settings; the public setters live in options.c. */
#ifndef JG_OPTIONS_H
#define JG_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

struct jg_options {
	char *output_dir;
	unsigned jobs;
	unsigned per_host;
	int per_host_set;      /* the caller chose it: no host's own default applies */
	double wait;           /* seconds between the starts of a host's requests */
	int wait_set;
	int random_wait;
	double connect_timeout;
	double stall_timeout;
	uint64_t max_size;
	uint64_t limit_rate;   /* bytes per second, all transfers; 0: none */
	unsigned retries;
	double retry_delay;
	unsigned max_redirects;
	uint64_t max_buffer;
	char **mirrors;        /* base URLs, none: the default */
	size_t n_mirrors;
	char *cacert;
	char *dns_servers;
	char **resolve;        /* "HOST:PORT:ADDR[,ADDR]" entries */
	size_t n_resolve;
	char *user_agent;      /* NULL: "juggle/VERSION" */
	char **headers;        /* "Name: value" lines added to every request */
	size_t n_headers;
	struct jg_pool *pool;  /* borrowed */
	unsigned count_flags;  /* enum jg_count_flags */
	unsigned top;
	unsigned engine;       /* enum jg_engine */
	unsigned threads;      /* 0 = jobs */
	int forget_finished;   /* a reported book leaves the session */
	int robots;            /* keep to each origin's robots.txt (robots_gate.h) */
	char *proxy_http;      /* proxy of http:// URLs, NULL: none (proxy.h) */
	char *proxy_https;     /* of https:// URLs */
	int proxy_set;         /* chosen by the caller: the environment is not read */
	char *noproxy;         /* hosts that go direct (noproxy.h) */
	int noproxy_set;
	int no_continue;       /* large bodies are neither kept nor continued */
};

/* Deep copy of `src` (NULL = defaults) into `dst`; 0 or -1 on ENOMEM. */
int jg_options_copy(struct jg_options *dst, const struct jg_options *src);
/* Frees what jg_options_copy() allocated inside `o`. */
void jg_options_fini(struct jg_options *o);

#endif
