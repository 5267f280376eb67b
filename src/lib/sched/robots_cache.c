#include "robots_cache.h"

#include "idxset.h"
#include "robots.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char magic[] = "juggle-robots 1\n";
static const char temp_suffix[] = ".part";

/* The head is a few short lines; a body past the cap was never written. */
enum { HEAD_MAX = 4096 };

/* Leftovers of a run killed while writing: ".NAME.part". */
static void sweep(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d); /* a duplicate shares the descriptor's offset */
	struct dirent *e;
	size_t sl = sizeof temp_suffix - 1;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.' && n > sl + 1 && strcmp(e->d_name + n - sl, temp_suffix) == 0)
			unlinkat(dirfd, e->d_name, 0);
	}
	closedir(d);
}

int jg_robots_cache_open(struct jg_robots_cache *c, int statefd, const char *dir, char *why,
                         size_t why_len)
{
	c->dirfd = -1;
	c->dir = dir;
	if (mkdirat(statefd, JG_ROBOTS_CACHE_DIR, 0777) < 0 && errno != EEXIST) {
		snprintf(why, why_len, "%s/%s/%s: %s", dir, JG_STORE_STATE, JG_ROBOTS_CACHE_DIR,
		         strerror(errno));
		return -1;
	}
	c->dirfd = openat(statefd, JG_ROBOTS_CACHE_DIR,
	                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dirfd < 0) {
		snprintf(why, why_len, "%s/%s/%s: %s", dir, JG_STORE_STATE, JG_ROBOTS_CACHE_DIR,
		         errno == ENOTDIR || errno == ELOOP
		                 ? "not a directory (a symlink or a file): refusing to use it"
		                 : strerror(errno));
		return -1;
	}
	sweep(c->dirfd);
	return 0;
}

void jg_robots_cache_close(struct jg_robots_cache *c)
{
	if (c->dirfd >= 0)
		close(c->dirfd);
	c->dirfd = -1;
}

void jg_robots_cache_name(const char *origin, char *out)
{
	/* Readable (scheme, host and port, made safe) and unique (a hash of
	 * the whole origin): names are compared, never parsed. */
	size_t n = 0;
	for (const char *p = origin; *p && n < JG_ROBOTS_CACHE_NAME - 24; p++) {
		char ch = *p;
		int safe = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		           (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
		if (!safe && n > 0 && out[n - 1] == '_')
			continue; /* "://" is one '_' */
		out[n++] = safe ? ch : '_';
	}
	snprintf(out + n, JG_ROBOTS_CACHE_NAME - n, "-%016" PRIx64,
	         jg_hash_str(origin, strlen(origin)));
}

/* Reads the whole file at `fd`, at most `max` bytes; -1 when larger. */
static ssize_t read_all(int fd, char *buf, size_t max)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return (ssize_t)n;
		n += (size_t)r;
		if (n > max)
			return -1;
	}
}

/* The value of head line "KEY VALUE\n" at `*p`, advancing past it. */
static const char *head_line(char **p, const char *end, const char *key)
{
	size_t kn = strlen(key);
	char *nl = memchr(*p, '\n', (size_t)(end - *p));
	if (!nl || (size_t)(nl - *p) <= kn || memcmp(*p, key, kn) != 0 || (*p)[kn] != ' ')
		return NULL;
	*nl = '\0';
	const char *v = *p + kn + 1;
	*p = nl + 1;
	return v;
}

static int parse_number(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int jg_robots_cache_load(const struct jg_robots_cache *c, const char *origin, double now,
                         long *status, char **body, size_t *len)
{
	char name[JG_ROBOTS_CACHE_NAME];
	jg_robots_cache_name(origin, name);
	int fd = openat(c->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat sb;
	size_t max = HEAD_MAX + JG_ROBOTS_MAX_BYTES;
	char *buf = NULL;
	ssize_t got = -1;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size <= max &&
	    (buf = malloc(max + 1)) != NULL)
		got = read_all(fd, buf, max);
	close(fd);
	if (got < 0) {
		free(buf);
		return 0;
	}
	char *p = buf, *end = buf + got;
	const char *o, *f, *st;
	long long fetched, code;
	int ok = (size_t)got >= sizeof magic - 1 && memcmp(buf, magic, sizeof magic - 1) == 0;
	if (ok) {
		p += sizeof magic - 1;
		ok = (o = head_line(&p, end, "origin")) && strcmp(o, origin) == 0 &&
		     (f = head_line(&p, end, "fetched")) &&
		     parse_number(f, 0, INT64_MAX / 2, &fetched) == 0 &&
		     (st = head_line(&p, end, "status")) && parse_number(st, 200, 499, &code) == 0 &&
		     p < end && *p == '\n';
	}
	/* A time ahead of ours (a clock set back) is no proof of freshness. */
	ok = ok && (double)fetched <= now + 60 && now - (double)fetched < JG_ROBOTS_CACHE_TTL;
	if (!ok) {
		free(buf);
		return 0;
	}
	p++;
	*len = (size_t)(end - p);
	*status = (long)code;
	*body = NULL;
	if (*len) {
		memmove(buf, p, *len);
		*body = buf;
	} else {
		free(buf);
	}
	return 1;
}

int jg_robots_cache_save(const struct jg_robots_cache *c, const char *origin, double now,
                         long status, const char *body, size_t len)
{
	char name[JG_ROBOTS_CACHE_NAME], temp[JG_ROBOTS_CACHE_NAME + 8], head[HEAD_MAX];
	jg_robots_cache_name(origin, name);
	snprintf(temp, sizeof temp, ".%s%s", name, temp_suffix);
	int hn = snprintf(head, sizeof head, "%sorigin %s\nfetched %lld\nstatus %ld\n\n", magic,
	                  origin, (long long)now, status);
	if (hn < 0 || (size_t)hn >= sizeof head) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (len > JG_ROBOTS_MAX_BYTES)
		len = JG_ROBOTS_MAX_BYTES;
	/* We hold the directory's lock: a temporary file there is a dead run's. */
	unlinkat(c->dirfd, temp, 0);
	int fd = openat(c->dirfd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int rc = jg_write_all(fd, head, (size_t)hn) < 0 || (len && jg_write_all(fd, body, len) < 0);
	int err = errno;
	if (close(fd) < 0 && !rc) {
		rc = 1;
		err = errno;
	}
	if (!rc && renameat(c->dirfd, temp, c->dirfd, name) < 0) {
		rc = 1;
		err = errno;
	}
	if (rc) {
		unlinkat(c->dirfd, temp, 0);
		errno = err;
		return -1;
	}
	return 0;
}
