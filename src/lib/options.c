#include "options.h"

#include "juggle.h"
#include "url.h"
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_defaults(struct jg_options *o)
{
	memset(o, 0, sizeof *o);
	o->jobs = 64;
	o->per_host = 8;
	o->connect_timeout = 30;
	o->stall_timeout = 60;
	o->max_size = 256ULL << 20;
	o->retries = 3;
	o->retry_delay = 1;
	o->max_redirects = 10;
	o->max_buffer = 256ULL << 20;
	o->top = 10;
}

static const char default_output_dir[] = "texts";
static const char default_mirror[] = "https://www.gutenberg.org";

JG_EXPORT struct jg_options *jg_options_new(void)
{
	struct jg_options *o = malloc(sizeof *o);
	if (!o)
		return NULL;
	set_defaults(o);
	return o;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Appends a copy of `s` to the list. JG_OK or JG_ENOMEM. */
static int list_add(char ***v, size_t *n, const char *s)
{
	char **grown = realloc(*v, (*n + 1) * sizeof *grown);
	if (!grown)
		return JG_ENOMEM;
	*v = grown;
	if (!(grown[*n] = strdup(s)))
		return JG_ENOMEM;
	(*n)++;
	return JG_OK;
}

static int list_copy(char ***dst, size_t *n_dst, char *const *src, size_t n)
{
	*dst = NULL;
	*n_dst = 0;
	for (size_t i = 0; i < n; i++)
		if (list_add(dst, n_dst, src[i]) != JG_OK)
			return -1;
	return 0;
}

void jg_options_fini(struct jg_options *o)
{
	free(o->output_dir);
	free_list(o->mirrors, o->n_mirrors);
	free(o->cacert);
	free(o->dns_servers);
	free(o->user_agent);
	free(o->proxy_http);
	free(o->proxy_https);
	free(o->noproxy);
	free_list(o->resolve, o->n_resolve);
	free_list(o->headers, o->n_headers);
	set_defaults(o);
}

JG_EXPORT void jg_options_free(struct jg_options *o)
{
	if (!o)
		return;
	jg_options_fini(o);
	free(o);
}

static int copy_string(char **dst, const char *src, const char *fallback)
{
	const char *s = src ? src : fallback;
	*dst = s ? strdup(s) : NULL;
	return (s && !*dst) ? -1 : 0;
}

int jg_options_copy(struct jg_options *dst, const struct jg_options *src)
{
	struct jg_options defaults;
	if (!src) {
		set_defaults(&defaults);
		src = &defaults;
	}
	*dst = *src;
	dst->output_dir = dst->cacert = dst->dns_servers = dst->user_agent = NULL;
	dst->resolve = dst->headers = dst->mirrors = NULL;
	dst->n_resolve = dst->n_headers = dst->n_mirrors = 0;
	dst->proxy_http = dst->proxy_https = dst->noproxy = NULL;
	if (copy_string(&dst->output_dir, src->output_dir, default_output_dir) < 0 ||
	    copy_string(&dst->cacert, src->cacert, NULL) < 0 ||
	    copy_string(&dst->dns_servers, src->dns_servers, NULL) < 0 ||
	    copy_string(&dst->user_agent, src->user_agent, NULL) < 0 ||
	    copy_string(&dst->proxy_http, src->proxy_http, NULL) < 0 ||
	    copy_string(&dst->proxy_https, src->proxy_https, NULL) < 0 ||
	    copy_string(&dst->noproxy, src->noproxy, NULL) < 0 ||
	    list_copy(&dst->resolve, &dst->n_resolve, src->resolve, src->n_resolve) < 0 ||
	    list_copy(&dst->headers, &dst->n_headers, src->headers, src->n_headers) < 0 ||
	    (src->n_mirrors ? list_copy(&dst->mirrors, &dst->n_mirrors, src->mirrors, src->n_mirrors)
	                    : list_add(&dst->mirrors, &dst->n_mirrors, default_mirror)) != 0)
		goto fail;
	return 0;
fail:
	jg_options_fini(dst);
	return -1;
}

static int replace_string(char **field, const char *value)
{
	char *copy = NULL;
	if (value) {
		copy = strdup(value);
		if (!copy)
			return JG_ENOMEM;
	}
	free(*field);
	*field = copy;
	return JG_OK;
}

JG_EXPORT int jg_options_set_output_dir(struct jg_options *o, const char *dir)
{
	if (!o || !dir || !*dir)
		return JG_EINVAL;
	return replace_string(&o->output_dir, dir);
}

JG_EXPORT int jg_options_set_jobs(struct jg_options *o, unsigned jobs)
{
	if (!o || jobs < 1 || jobs > 100000)
		return JG_EINVAL;
	o->jobs = jobs;
	return JG_OK;
}

JG_EXPORT int jg_options_set_per_host(struct jg_options *o, unsigned n)
{
	if (!o || n < 1 || n > 100000)
		return JG_EINVAL;
	o->per_host = n;
	o->per_host_set = 1;
	return JG_OK;
}

JG_EXPORT int jg_options_set_wait(struct jg_options *o, double seconds, int random)
{
	if (!o || !(seconds >= 0 && seconds <= 3600))
		return JG_EINVAL;
	o->wait = seconds;
	o->wait_set = 1;
	o->random_wait = random != 0;
	return JG_OK;
}

JG_EXPORT int jg_options_set_connect_timeout(struct jg_options *o, double s)
{
	if (!o || !(s >= 0) || s > 86400)
		return JG_EINVAL;
	o->connect_timeout = s;
	return JG_OK;
}

JG_EXPORT int jg_options_set_stall_timeout(struct jg_options *o, double s)
{
	if (!o || !(s > 0) || s > 86400)
		return JG_EINVAL;
	o->stall_timeout = s;
	return JG_OK;
}

JG_EXPORT int jg_options_set_max_size(struct jg_options *o, uint64_t bytes)
{
	/* A body must fit in one frame to a worker (see proto.h). */
	if (!o || bytes == 0 || bytes > JG_MAX_SIZE_LIMIT)
		return JG_EINVAL;
	o->max_size = bytes;
	return JG_OK;
}

JG_EXPORT int jg_options_set_limit_rate(struct jg_options *o, uint64_t bytes_per_second)
{
	if (!o)
		return JG_EINVAL;
	o->limit_rate = bytes_per_second;
	return JG_OK;
}

JG_EXPORT int jg_options_set_retries(struct jg_options *o, unsigned retries)
{
	if (!o || retries > 100)
		return JG_EINVAL;
	o->retries = retries;
	return JG_OK;
}

JG_EXPORT int jg_options_set_retry_delay(struct jg_options *o, double s)
{
	if (!o || !(s >= 0) || s > 3600)
		return JG_EINVAL;
	o->retry_delay = s;
	return JG_OK;
}

JG_EXPORT int jg_options_set_max_redirects(struct jg_options *o, unsigned n)
{
	if (!o || n > 50)
		return JG_EINVAL;
	o->max_redirects = n;
	return JG_OK;
}

JG_EXPORT int jg_options_set_max_buffer(struct jg_options *o, uint64_t bytes)
{
	if (!o || bytes == 0)
		return JG_EINVAL;
	o->max_buffer = bytes;
	return JG_OK;
}

JG_EXPORT int jg_options_set_continue(struct jg_options *o, int on)
{
	if (!o)
		return JG_EINVAL;
	o->no_continue = on == 0;
	return JG_OK;
}

JG_EXPORT int jg_options_set_forget_finished(struct jg_options *o, int forget)
{
	if (!o)
		return JG_EINVAL;
	o->forget_finished = forget != 0;
	return JG_OK;
}

static const char *const default_mirrors[] = {default_mirror};

JG_EXPORT void jg_options_settings(const struct jg_options *o, struct jg_settings *out,
                                   size_t size)
{
	struct jg_settings st = {
		.jobs = o->jobs,
		.per_host = o->per_host,
		.wait = o->wait,
		.random_wait = o->random_wait,
		.limit_rate = o->limit_rate,
		.retries = o->retries,
		.retry_delay = o->retry_delay,
		.connect_timeout = o->connect_timeout,
		.stall_timeout = o->stall_timeout,
		.max_size = o->max_size,
		.max_redirects = o->max_redirects,
		.count_flags = o->count_flags,
		.top = o->top,
		.engine = (enum jg_engine)o->engine,
		/* None set: the default a session would take. */
		.n_mirrors = o->n_mirrors ? o->n_mirrors : 1,
		.mirrors = o->n_mirrors ? (const char *const *)o->mirrors : default_mirrors,
		.user_agent = o->user_agent,
	};
	memset(out, 0, size);
	memcpy(out, &st, size < sizeof st ? size : sizeof st);
}

JG_EXPORT int jg_options_add_mirror(struct jg_options *o, const char *url)
{
	if (!o || !url || !*url || o->n_mirrors >= JG_MIRRORS_MAX)
		return JG_EINVAL;
	/* Checked now, not at the first book: a typo in a mirror is the
	 * caller's error, not each book's. */
	struct jg_url u;
	int err = jg_url_parse(url, &u, NULL, 0);
	if (err != JG_OK)
		return err == JG_ENOMEM ? err : JG_EURL;
	jg_url_fini(&u);
	return list_add(&o->mirrors, &o->n_mirrors, url);
}

JG_EXPORT int jg_options_set_mirror(struct jg_options *o, const char *url)
{
	if (!o || !url || !*url)
		return JG_EINVAL;
	char **old = o->mirrors;
	size_t n_old = o->n_mirrors;
	o->mirrors = NULL;
	o->n_mirrors = 0;
	int err = jg_options_add_mirror(o, url);
	if (err != JG_OK) {
		free_list(o->mirrors, o->n_mirrors);
		o->mirrors = old;
		o->n_mirrors = n_old;
		return err;
	}
	free_list(old, n_old);
	return JG_OK;
}

JG_EXPORT int jg_options_set_cacert(struct jg_options *o, const char *file)
{
	if (!o)
		return JG_EINVAL;
	return replace_string(&o->cacert, file);
}

JG_EXPORT int jg_options_set_dns_servers(struct jg_options *o, const char *servers)
{
	if (!o)
		return JG_EINVAL;
	return replace_string(&o->dns_servers, servers);
}

/* HOST:PORT:ADDR[,ADDR...], HOST without brackets, PORT 1..65535. */
static int resolve_entry_valid(const char *e)
{
	const char *c1 = strchr(e, ':');
	if (!c1 || c1 == e)
		return 0;
	char *end;
	long port = strtol(c1 + 1, &end, 10);
	return end != c1 + 1 && *end == ':' && port > 0 && port < 65536 && end[1] != '\0';
}

JG_EXPORT int jg_options_add_resolve(struct jg_options *o, const char *entry)
{
	if (!o || !entry || !resolve_entry_valid(entry))
		return JG_EINVAL;
	return list_add(&o->resolve, &o->n_resolve, entry);
}

JG_EXPORT int jg_options_set_counting(struct jg_options *o, unsigned flags, unsigned top)
{
	unsigned known = JG_COUNT_WHITESPACE | JG_COUNT_KEEP_BOILERPLATE | JG_COUNT_OFF |
	                 JG_COUNT_NO_TOTALS;
	if (!o || (flags & ~known) || top > 64)
		return JG_EINVAL;
	o->count_flags = flags;
	o->top = top;
	return JG_OK;
}

JG_EXPORT int jg_options_set_pool(struct jg_options *o, struct jg_pool *pool)
{
	if (!o)
		return JG_EINVAL;
	o->pool = pool;
	return JG_OK;
}

JG_EXPORT int jg_options_set_engine(struct jg_options *o, enum jg_engine engine, unsigned threads)
{
	if (!o || !jg_engine_name(engine) || threads > JG_THREADS_MAX)
		return JG_EINVAL;
	o->engine = engine;
	o->threads = threads;
	return JG_OK;
}

JG_EXPORT const char *jg_engine_name(enum jg_engine engine)
{
	switch (engine) {
	case JG_ENGINE_LOOP:
		return "loop";
	case JG_ENGINE_THREADS:
		return "threads";
	case JG_ENGINE_SERIAL:
		return "serial";
	}
	return NULL;
}

/* Printable text and tabs only: no line ends, nothing a server would split. */
static int header_text_ok(const char *s, size_t max)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return 0;
	return n <= max;
}

JG_EXPORT int jg_options_set_robots(struct jg_options *o, int on)
{
	if (!o)
		return JG_EINVAL;
	o->robots = on != 0;
	return JG_OK;
}

JG_EXPORT int jg_options_set_user_agent(struct jg_options *o, const char *ua)
{
	if (!o || (ua && (!*ua || !header_text_ok(ua, JG_HEADER_MAX))))
		return JG_EINVAL;
	return replace_string(&o->user_agent, ua);
}

/* RFC 9110's token characters: what a field name is made of. */
static int is_token_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

JG_EXPORT int jg_options_add_header(struct jg_options *o, const char *line)
{
	if (!o || !line || o->n_headers >= JG_HEADERS_MAX)
		return JG_EINVAL;
	const char *colon = strchr(line, ':');
	if (!colon || colon == line || !header_text_ok(colon + 1, JG_HEADER_MAX))
		return JG_EINVAL;
	for (const char *p = line; p < colon; p++)
		if (!is_token_char((unsigned char)*p))
			return JG_EINVAL;
	return list_add(&o->headers, &o->n_headers, line);
}

/* A proxy URL jg_proxy_parse() takes; NULL and "" are "none". */
static int proxy_valid(const char *url, char *why, size_t why_len)
{
	struct jg_proxy p;
	if (!url || !*url)
		return 1;
	if (jg_proxy_parse(url, &p, why, why_len) < 0)
		return 0;
	jg_proxy_fini(&p);
	return 1;
}

static int noproxy_valid(const char *list, char *why, size_t why_len)
{
	struct jg_noproxy np;
	if (jg_noproxy_parse(list, &np, why, why_len) < 0)
		return 0;
	jg_noproxy_fini(&np);
	return 1;
}

/* Both schemes' proxies at once: all or nothing. */
static int set_proxies(struct jg_options *o, const char *http, const char *https)
{
	char *h = NULL, *s = NULL;
	if ((http && *http && !(h = strdup(http))) || (https && *https && !(s = strdup(https)))) {
		free(h);
		return JG_ENOMEM;
	}
	free(o->proxy_http);
	free(o->proxy_https);
	o->proxy_http = h;
	o->proxy_https = s;
	o->proxy_set = 1;
	return JG_OK;
}

JG_EXPORT int jg_options_set_proxy(struct jg_options *o, const char *url)
{
	char why[200];
	if (!o || !proxy_valid(url, why, sizeof why))
		return JG_EINVAL;
	return set_proxies(o, url, url);
}

JG_EXPORT int jg_options_set_noproxy(struct jg_options *o, const char *list)
{
	char why[200];
	if (!o || !noproxy_valid(list, why, sizeof why))
		return JG_EINVAL;
	int rc = replace_string(&o->noproxy, list && *list ? list : NULL);
	if (rc == JG_OK)
		o->noproxy_set = 1;
	return rc;
}

static int bad_variable(char *errbuf, const char *var, const char *value, const char *why)
{
	if (errbuf)
		snprintf(errbuf, JG_ERRBUF_SIZE, "%.16s='%.60s': %.150s", var, value, why);
	return JG_EINVAL;
}

JG_EXPORT int jg_options_read_proxy_env(struct jg_options *o, char *errbuf)
{
	char why[200];
	struct jg_proxy_env env;
	if (!o)
		return JG_EINVAL;
	jg_proxy_env_read(&env, getenv);
	if (!o->proxy_set) {
		if (!proxy_valid(env.http, why, sizeof why))
			return bad_variable(errbuf, env.http_var, env.http, why);
		if (!proxy_valid(env.https, why, sizeof why))
			return bad_variable(errbuf, env.https_var, env.https, why);
	}
	if (!o->noproxy_set && !noproxy_valid(env.noproxy, why, sizeof why))
		return bad_variable(errbuf, env.noproxy_var, env.noproxy, why);
	/* Read, not chosen: proxy_set stays as it was. */
	if (!o->proxy_set) {
		int set = o->proxy_set, rc = set_proxies(o, env.http, env.https);
		o->proxy_set = set;
		if (rc != JG_OK)
			return rc;
	}
	if (!o->noproxy_set && replace_string(&o->noproxy, env.noproxy) != JG_OK)
		return JG_ENOMEM;
	return JG_OK;
}
