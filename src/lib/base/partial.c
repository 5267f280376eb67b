#include "partial.h"

#include "idxset.h"
#include "trash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char meta_magic[] = "juggle-partial 1";
static const char meta_suffix[] = ".resume";
static const char meta_tmp_suffix[] = ".resume.tmp";

/* ---- the sidecar's text ------------------------------------------------- */

static int field_ok(const char *v, size_t max)
{
	size_t n = v ? strlen(v) : 0;
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

int jg_partial_meta_format(const struct jg_partial_meta *m, char *buf, size_t cap)
{
	if (!field_ok(m->url, JG_URL_MAX) || !field_ok(m->validator, JG_PARTIAL_VALIDATOR_MAX) ||
	    (m->kind != JG_VALIDATOR_ETAG && m->kind != JG_VALIDATOR_DATE))
		return -1;
	char length[32] = "";
	if (m->length)
		snprintf(length, sizeof length, "length %" PRIu64 "\n", m->length);
	int n = snprintf(buf, cap, "%s\nurl %s\n%s %s\n%s", meta_magic, m->url,
	                 m->kind == JG_VALIDATOR_ETAG ? "etag" : "last-modified", m->validator,
	                 length);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* A decimal of 1 to 20 digits, not 0, no overflow. */
static int parse_length(const char *v, uint64_t *out)
{
	uint64_t n = 0;
	size_t i = 0;
	for (; v[i]; i++) {
		if (v[i] < '0' || v[i] > '9' || i >= 20)
			return -1;
		unsigned d = (unsigned)(v[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (i == 0 || n == 0 || v[0] == '0')
		return -1;
	*out = n;
	return 0;
}

/* One "key value" line (its '\n' already a NUL) into `m`. 0 or -1. */
static int take_line(char *line, struct jg_partial_meta *m, unsigned *seen)
{
	char *sp = strchr(line, ' ');
	if (!sp)
		return -1;
	*sp = '\0';
	const char *v = sp + 1;
	enum { URL = 1, VALIDATOR = 2, LENGTH = 4 };
	if (strcmp(line, "url") == 0 && !(*seen & URL) && field_ok(v, JG_URL_MAX)) {
		m->url = v;
		*seen |= URL;
	} else if ((strcmp(line, "etag") == 0 || strcmp(line, "last-modified") == 0) &&
	           !(*seen & VALIDATOR) && field_ok(v, JG_PARTIAL_VALIDATOR_MAX)) {
		m->kind = line[0] == 'e' ? JG_VALIDATOR_ETAG : JG_VALIDATOR_DATE;
		m->validator = v;
		*seen |= VALIDATOR;
	} else if (strcmp(line, "length") == 0 && !(*seen & LENGTH) && parse_length(v, &m->length) == 0) {
		*seen |= LENGTH;
	} else {
		return -1;
	}
	return 0;
}

int jg_partial_meta_parse(char *text, size_t len, struct jg_partial_meta *m)
{
	memset(m, 0, sizeof *m);
	text[len] = '\0';
	if (memchr(text, '\0', len) || len == 0 || text[len - 1] != '\n')
		return -1;
	char *line = text;
	char *nl = strchr(line, '\n');
	*nl = '\0';
	if (strcmp(line, meta_magic) != 0)
		return -1;
	unsigned seen = 0;
	for (line = nl + 1; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (take_line(line, m, &seen) < 0)
			return -1;
	}
	return m->url && m->validator ? 0 : -1;
}

/* ---- the directory ------------------------------------------------------ */

static void meta_name(char *out, size_t cap, const char *key, const char *suffix)
{
	snprintf(out, cap, ".%s%s", key, suffix);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Removes half-written sidecars; says whether anything else is there. */
static int sweep(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 1; /* cannot tell: assume there is */
	}
	int any = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (e->d_name[0] == '.' && ends_with(e->d_name, meta_tmp_suffix))
			unlinkat(dirfd, e->d_name, 0);
		else
			any = 1;
	}
	closedir(d);
	return any;
}

static int open_dir(int statefd)
{
	return openat(statefd, JG_PARTIAL_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* The directory, made first when `make` (only ever a real directory of
 * our own: a symlink put there is not followed). -1 when there is none. */
static int dir_of(struct jg_partials *p, int make)
{
	int fd = p->dirfd;
	if (fd >= 0 || !make || p->statefd < 0)
		return fd;
	if (mkdirat(p->statefd, JG_PARTIAL_DIR, 0777) < 0 && errno != EEXIST)
		return -1;
	if ((fd = open_dir(p->statefd)) < 0)
		return -1;
	int none = -1;
	if (!atomic_compare_exchange_strong(&p->dirfd, &none, fd)) {
		close(fd); /* another thread made it first */
		fd = none;
	}
	return fd;
}

int jg_partials_open(struct jg_partials *p, struct jg_store *st, int enabled, char *why,
                     size_t why_len)
{
	p->dirfd = p->statefd = -1;
	p->enabled = enabled;
	p->maybe_any = 0;
	p->trash = st->trash;
	p->statefd = openat(st->dirfd, JG_STORE_STATE, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (p->statefd < 0) {
		snprintf(why, why_len, "%s/%s: %s", st->dir, JG_STORE_STATE, strerror(errno));
		return -1;
	}
	int fd = open_dir(p->statefd);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		int err = errno;
		snprintf(why, why_len, "%s/%s/%s: %s", st->dir, JG_STORE_STATE, JG_PARTIAL_DIR,
		         err == ENOTDIR || err == ELOOP
		                 ? "not a directory (a symlink or a file): refusing to use it"
		                 : strerror(err));
		return -1;
	}
	p->dirfd = fd;
	p->maybe_any = sweep(fd);
	return 0;
}

void jg_partials_close(struct jg_partials *p)
{
	if (p->dirfd >= 0)
		close(p->dirfd);
	if (p->statefd >= 0)
		close(p->statefd);
	p->dirfd = p->statefd = -1;
	p->enabled = 0;
}

/*
 * A partial's name: a hash of the book's URL, its identity. Not the
 * book's file name, which follows the list's order: another list may give
 * it to another URL, and this URL another name (the sidecar says which
 * URL it is; two URLs of one hash are told apart by it).
 */
static void key_of(const char *url, char key[JG_PARTIAL_KEY_MAX + 1])
{
	snprintf(key, JG_PARTIAL_KEY_MAX + 1, "%016" PRIx64, jg_hash_str(url, strlen(url)));
}

static void unlink_key(int dirfd, const char *key)
{
	char meta[JG_PARTIAL_KEY_MAX + 32];
	meta_name(meta, sizeof meta, key, meta_suffix);
	/* The sidecar first: a kill between leaves bytes without one, which
	 * the next look drops, never a sidecar over other bytes. */
	unlinkat(dirfd, meta, 0);
	unlinkat(dirfd, key, 0);
}

void jg_partial_unlink(struct jg_partials *p, const char *url)
{
	char key[JG_PARTIAL_KEY_MAX + 1];
	int dirfd = p ? dir_of(p, 0) : -1;
	if (dirfd < 0 || !url || !p->maybe_any)
		return;
	key_of(url, key);
	unlink_key(dirfd, key);
}

/* The names go; the blocks, when those were the file's last name, through
 * the trash. */
static void drop_key(struct jg_partials *p, int dirfd, const char *key)
{
	int fd = openat(dirfd, key, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	unlink_key(dirfd, key);
	if (fd >= 0 && p->trash)
		jg_trash_add(p->trash, fd); /* closed at once unless it was the last name */
	else if (fd >= 0)
		close(fd);
}

void jg_partial_drop(struct jg_partials *p, const char *url)
{
	char key[JG_PARTIAL_KEY_MAX + 1];
	int dirfd = p ? dir_of(p, 0) : -1;
	if (dirfd < 0 || !url || !p->maybe_any)
		return;
	key_of(url, key);
	drop_key(p, dirfd, key);
}

/* Reads the sidecar of `key` into `buf` (JG_PARTIAL_META_MAX + 1 bytes). */
static int read_meta(int dirfd, const char *key, char *buf, struct jg_partial_meta *m)
{
	char meta[JG_PARTIAL_KEY_MAX + 32];
	meta_name(meta, sizeof meta, key, meta_suffix);
	int fd = openat(dirfd, meta, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat sb;
	ssize_t n = -1;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size <= JG_PARTIAL_META_MAX)
		n = read(fd, buf, JG_PARTIAL_META_MAX);
	close(fd);
	return n > 0 ? jg_partial_meta_parse(buf, (size_t)n, m) : -1;
}

int jg_partial_take(struct jg_partials *p, struct jg_store *st, const char *url,
                    struct jg_store_temp *tmp, struct jg_partial_found *out)
{
	char key[JG_PARTIAL_KEY_MAX + 1];
	tmp->fd = -1;
	int dirfd = dir_of(p, 0);
	if (dirfd < 0 || !p->enabled || !p->maybe_any)
		return 0;
	key_of(url, key);
	char buf[JG_PARTIAL_META_MAX + 1];
	struct jg_partial_meta m;
	if (read_meta(dirfd, key, buf, &m) < 0 || strcmp(m.url, url) != 0) {
		/* None, broken, or another URL's of the same hash: not ours to
		 * continue, and the book will write its own. */
		drop_key(p, dirfd, key);
		return 0;
	}
	uint64_t bytes = 0;
	if (jg_store_begin_from(st, tmp, dirfd, key, &bytes) < 0) {
		int err = errno;
		if (err == EMFILE || err == ENFILE)
			return -1;
		drop_key(p, dirfd, key); /* missing, a link, a symlink, not a file */
		return 0;
	}
	if (bytes == 0 || (m.length && bytes >= m.length)) {
		/* Nothing to continue, or all there but never committed (a kill
		 * at the very end): a range past the end would only get a 416.
		 * Names first, so that the temporary's abort frees the blocks. */
		unlink_key(dirfd, key);
		jg_store_abort(st, tmp);
		return 0;
	}
	out->bytes = bytes;
	out->kind = m.kind;
	snprintf(out->validator, sizeof out->validator, "%s", m.validator);
	out->length = m.length;
	return 1;
}

/* Writes the sidecar of `key` atomically: a temporary, then a rename. */
static int write_meta(int dirfd, const char *key, const char *text, size_t len)
{
	char meta[JG_PARTIAL_KEY_MAX + 32], tmp[JG_PARTIAL_KEY_MAX + 32];
	meta_name(meta, sizeof meta, key, meta_suffix);
	meta_name(tmp, sizeof tmp, key, meta_tmp_suffix);
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int rc = jg_write_all(fd, text, len);
	if (close(fd) < 0 || rc < 0 || renameat(dirfd, tmp, dirfd, meta) < 0) {
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

int jg_partial_link(struct jg_partials *p, int store_dirfd, const char *tmp_name,
                    const struct jg_partial_meta *m)
{
	char text[JG_PARTIAL_META_MAX + 1], key[JG_PARTIAL_KEY_MAX + 1];
	if (!p || !p->enabled)
		return -1;
	int len = jg_partial_meta_format(m, text, sizeof text);
	int dirfd = len < 0 ? -1 : dir_of(p, 1);
	if (dirfd < 0)
		return -1;
	key_of(m->url, key);
	p->maybe_any = 1;
	/* A partial of the URL that no attempt took (the book was refused
	 * one) is replaced; names only: this may run on an engine thread,
	 * which must not touch the loop's trash. */
	unlink_key(dirfd, key);
	if (write_meta(dirfd, key, text, (size_t)len) < 0)
		return -1;
	if (linkat(store_dirfd, tmp_name, dirfd, key, 0) < 0) {
		unlink_key(dirfd, key); /* hard links not supported here, say */
		return -1;
	}
	return 0;
}
