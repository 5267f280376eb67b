#include "options.h"

#include "juggle.h"

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

void jg_options_fini(struct jg_options *o)
{
	free(o->output_dir);
	free(o->mirror);
	free(o->cacert);
	free(o->dns_servers);
	for (size_t i = 0; i < o->n_resolve; i++)
		free(o->resolve[i]);
	free(o->resolve);
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
	dst->output_dir = dst->mirror = dst->cacert = dst->dns_servers = NULL;
	dst->resolve = NULL;
	dst->n_resolve = 0;
	if (copy_string(&dst->output_dir, src->output_dir, default_output_dir) < 0 ||
	    copy_string(&dst->mirror, src->mirror, default_mirror) < 0 ||
	    copy_string(&dst->cacert, src->cacert, NULL) < 0 ||
	    copy_string(&dst->dns_servers, src->dns_servers, NULL) < 0)
		goto fail;
	if (src->n_resolve) {
		dst->resolve = calloc(src->n_resolve, sizeof *dst->resolve);
		if (!dst->resolve)
			goto fail;
		for (size_t i = 0; i < src->n_resolve; i++) {
			dst->resolve[i] = strdup(src->resolve[i]);
			if (!dst->resolve[i])
				goto fail;
			dst->n_resolve = i + 1;
		}
	}
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

JG_EXPORT int jg_options_set_forget_finished(struct jg_options *o, int forget)
{
	if (!o)
		return JG_EINVAL;
	o->forget_finished = forget != 0;
	return JG_OK;
}

JG_EXPORT int jg_options_set_mirror(struct jg_options *o, const char *url)
{
	if (!o || !url || !*url)
		return JG_EINVAL;
	return replace_string(&o->mirror, url);
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
	char **grown = realloc(o->resolve, (o->n_resolve + 1) * sizeof *grown);
	if (!grown)
		return JG_ENOMEM;
	o->resolve = grown;
	o->resolve[o->n_resolve] = strdup(entry);
	if (!o->resolve[o->n_resolve])
		return JG_ENOMEM;
	o->n_resolve++;
	return JG_OK;
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
