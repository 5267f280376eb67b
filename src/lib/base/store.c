#include "store.h"

#include "trash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Temporary names, for the files that have one (store.h), are
 * ".jg-PID-TOKEN-SERIAL.part": the leading dot keeps them apart from
 * final names (which never start with a dot), and the PID lets a later
 * run tell a dead process's leftovers from a live one's work.
 */
static const char temp_prefix[] = ".jg-";
static const char temp_suffix[] = ".part";

size_t jg_store_sanitize(const char *seg, size_t len, char *out)
{
	size_t n = 0;
	size_t i = 0;
	while (i < len && seg[i] == '.')
		i++;
	for (; i < len && n < JG_NAME_MAX; i++) {
		unsigned char c = (unsigned char)seg[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			c = '_';
		out[n++] = (char)c;
	}
	/* Cut short inside a UTF-8 sequence: drop its first bytes too. */
	if (i < len && ((unsigned char)seg[i] & 0xC0) == 0x80) {
		while (n > 0 && ((unsigned char)out[n - 1] & 0xC0) == 0x80)
			n--;
		if (n > 0)
			n--;
	}
	out[n] = '\0';
	return n;
}

static int mkdir_parents(const char *dir)
{
	char *path = strdup(dir);
	if (!path)
		return -1;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) < 0 && errno != EEXIST) {
			free(path);
			return -1;
		}
		*p = '/';
	}
	int rc = mkdir(path, 0777) < 0 && errno != EEXIST ? -1 : 0;
	free(path);
	return rc;
}

int jg_store_open(struct jg_store *st, const char *dir, uint32_t token, char *why, size_t why_len)
{
	memset(st, 0, sizeof *st);
	st->dirfd = -1;
	st->lock_fd = -1;
	st->token = token;
	st->pid = (long)getpid();
	if (strlen(dir) >= PATH_MAX) {
		snprintf(why, why_len, "%.60s...: the directory's path is longer than %d bytes", dir,
		         PATH_MAX - 1);
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir_parents(dir) < 0) {
		snprintf(why, why_len, "%s: cannot create directory: %s", dir, strerror(errno));
		return -1;
	}
	st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		snprintf(why, why_len, "%s: %s", dir, strerror(errno));
		return -1;
	}
	st->dir = strdup(dir);
	if (!st->dir) {
		snprintf(why, why_len, "out of memory");
		jg_store_close(st);
		return -1;
	}
	return 0;
}

void jg_store_close(struct jg_store *st)
{
	if (st->dirfd >= 0)
		close(st->dirfd);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* the lock goes with it */
	free(st->dir);
	st->dirfd = st->lock_fd = -1;
	st->dir = NULL;
}

int jg_store_lock(struct jg_store *st, char *why, size_t why_len)
{
	/* Said of the directory the user named, not of juggle's insides. */
	if (faccessat(st->dirfd, ".", W_OK, AT_EACCESS) < 0) {
		snprintf(why, why_len, "output directory %s is not writable: %s", st->dir,
		         strerror(errno));
		return -1;
	}
	if (mkdirat(st->dirfd, JG_STORE_STATE, 0777) < 0 && errno != EEXIST) {
		snprintf(why, why_len, "%s/%s: %s", st->dir, JG_STORE_STATE, strerror(errno));
		return -1;
	}
	int state = openat(st->dirfd, JG_STORE_STATE, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (state < 0) {
		snprintf(why, why_len, "%s/%s: %s", st->dir, JG_STORE_STATE,
		         errno == ENOTDIR || errno == ELOOP
		                 ? "not a directory (a symlink or a file): refusing to use it"
		                 : strerror(errno));
		return -1;
	}
	int fd = openat(state, JG_STORE_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	int err = errno;
	close(state);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(why, why_len, "%s/%s/%s: %s", st->dir, JG_STORE_STATE, JG_STORE_LOCK,
		         fd < 0 && err == ELOOP ? "a symlink: not juggle's lock"
		                                : fd < 0 ? strerror(err) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int busy = errno == EWOULDBLOCK;
		snprintf(why, why_len, "%s: %s", st->dir,
		         busy ? "another juggle run is using this directory" : strerror(errno));
		close(fd);
		return busy ? 1 : -1;
	}
	st->lock_fd = fd;
	return 0;
}

/* Whether `name` is one of our temporary names. */
static int is_temp(const char *name)
{
	size_t n = strlen(name);
	size_t sl = sizeof temp_suffix - 1;
	if (strncmp(name, temp_prefix, sizeof temp_prefix - 1) != 0 || n <= sl ||
	    strcmp(name + n - sl, temp_suffix) != 0)
		return 0;
	char *end;
	long pid = strtol(name + sizeof temp_prefix - 1, &end, 10);
	return *end == '-' && pid > 0;
}

/* A fresh stream over the store's directory (the descriptor is kept). */
static DIR *open_listing(struct jg_store *st)
{
	int fd = dup(st->dirfd);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return NULL;
	}
	rewinddir(d);
	return d;
}

int jg_store_list(struct jg_store *st, int (*fn)(void *ctx, const char *name), void *ctx)
{
	DIR *d = open_listing(st);
	if (!d)
		return -1;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			rc = fn(ctx, e->d_name);
	closedir(d);
	return rc;
}

unsigned jg_store_sweep(struct jg_store *st)
{
	DIR *d = open_listing(st);
	if (!d)
		return 0;
	unsigned removed = 0;
	struct dirent *e;
	/* No PID test: a PID from another namespace or host says nothing
	 * here. Holding the lock is what proves no live run writes these. */
	while (st->lock_fd >= 0 && (e = readdir(d)) != NULL)
		if (is_temp(e->d_name) && unlinkat(st->dirfd, e->d_name, 0) == 0)
			removed++;
	closedir(d);
	return removed;
}

int jg_store_open_book(struct jg_store *st, const char *name, uint64_t size, uint64_t ino,
                       char *why, size_t why_len)
{
	int fd = openat(st->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;
	const char *bad = NULL;
	if (fd < 0)
		bad = errno == ELOOP ? "a symlink, not the book juggle saved" : strerror(errno);
	else if (fstat(fd, &sb) < 0)
		bad = strerror(errno);
	else if (!S_ISREG(sb.st_mode))
		bad = "not a regular file";
	else if ((uint64_t)sb.st_size != size || (ino && (uint64_t)sb.st_ino != ino))
		bad = "changed since it was checked: not the book juggle saved";
	if (!bad)
		return fd;
	snprintf(why, why_len, "%.300s/%.250s: %s", st->dir, name, bad);
	if (fd >= 0)
		close(fd);
	return -1;
}

int jg_pwrite_all(int fd, const void *buf, size_t len, off_t at)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = at < 0 ? write(fd, p, len) : pwrite(fd, p, len, at);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		if (at >= 0)
			at += n;
	}
	return 0;
}

int jg_write_all(int fd, const void *buf, size_t len)
{
	return jg_pwrite_all(fd, buf, len, -1);
}

static void temp_name(struct jg_store *st, struct jg_store_temp *tmp)
{
	snprintf(tmp->name, sizeof tmp->name, "%s%ld-%08" PRIx32 "-%" PRIu64 "%s", temp_prefix,
	         st->pid, st->token, st->serial++, temp_suffix);
}

/* A new named temporary file: -1 with errno, or its descriptor. */
static int open_named(struct jg_store *st, struct jg_store_temp *tmp)
{
	temp_name(st, tmp);
	return openat(st->dirfd, tmp->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
}

/* A second name for the unnamed file `fd`, by the way `how` says. */
static int link_fd(int how, int fd, int dirfd, const char *name)
{
	if (how == JG_TEMPS_FLINK)
		return linkat(fd, "", dirfd, name, AT_EMPTY_PATH);
	char path[40];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW);
}

/*
 * The store's first temporary file tells how they are made here: an
 * O_TMPFILE one is given a temporary name by each way of linking in
 * turn, and the first that works is the way. That file then goes on as
 * a named one. 0 with tmp->fd set, or -1 with errno.
 */
static int learn_temps(struct jg_store *st, struct jg_store_temp *tmp)
{
	int fd = openat(st->dirfd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0644);
	int how = JG_TEMPS_NAMED;
	if (fd >= 0) {
		temp_name(st, tmp);
		if (link_fd(JG_TEMPS_FLINK, fd, st->dirfd, tmp->name) == 0)
			how = JG_TEMPS_FLINK;
		else if (link_fd(JG_TEMPS_PROC, fd, st->dirfd, tmp->name) == 0)
			how = JG_TEMPS_PROC;
		else
			close(fd);
	} else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		return -1; /* EMFILE, ENOSPC...: no answer to the question yet */
	}
	st->temps = how;
	if (how == JG_TEMPS_NAMED)
		fd = open_named(st, tmp);
	tmp->fd = fd;
	return fd < 0 ? -1 : 0;
}

/* Why a new temporary file could not be made. */
static int begin_failed(const struct jg_store *st, const struct jg_store_temp *tmp, char *why,
                        size_t why_len)
{
	if (tmp->name[0])
		snprintf(why, why_len, "%s/%s: %s", st->dir, tmp->name, strerror(errno));
	else
		snprintf(why, why_len, "%s: cannot create a file: %s", st->dir, strerror(errno));
	return -1;
}

int jg_store_begin(struct jg_store *st, struct jg_store_temp *tmp, char *why, size_t why_len)
{
	int how = st->temps;
	tmp->fd = -1;
	tmp->name[0] = '\0';
	if (how == JG_TEMPS_UNKNOWN)
		learn_temps(st, tmp);
	else if (how == JG_TEMPS_NAMED)
		tmp->fd = open_named(st, tmp);
	else
		tmp->fd = openat(st->dirfd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0644);
	return tmp->fd < 0 ? begin_failed(st, tmp, why, why_len) : 0;
}

int jg_store_name(struct jg_store *st, struct jg_store_temp *tmp)
{
	if (tmp->name[0])
		return 0;
	temp_name(st, tmp);
	if (link_fd(st->temps, tmp->fd, st->dirfd, tmp->name) < 0) {
		tmp->name[0] = '\0';
		return -1;
	}
	return 0;
}

/* A regular file with no name but this one, not through a symlink: the
 * descriptor, or -1 (errno; EMLINK for a file with other names). */
static int open_sole(int dirfd, const char *name, int flags, struct stat *sb)
{
	int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int bad = fstat(fd, sb) < 0 ? errno : !S_ISREG(sb->st_mode) ? EINVAL
	                                    : sb->st_nlink != 1 ? EMLINK : 0;
	if (bad) {
		close(fd);
		errno = bad;
		return -1;
	}
	return fd;
}

int jg_store_begin_from(struct jg_store *st, struct jg_store_temp *tmp, int dirfd,
                        const char *name, uint64_t *size)
{
	struct stat was, now;
	tmp->fd = -1;
	int fd = open_sole(dirfd, name, O_RDONLY, &was);
	if (fd < 0)
		return -1;
	close(fd);
	temp_name(st, tmp);
	if (linkat(dirfd, name, st->dirfd, tmp->name, 0) < 0)
		return -1;
	/* Linked by name: the file is checked again through its new one, so
	 * that one swapped in between (a symlink, another file) is refused. */
	int err = 0;
	tmp->fd = openat(st->dirfd, tmp->name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (tmp->fd < 0)
		err = errno;
	else if (fstat(tmp->fd, &now) < 0)
		err = errno;
	else if (now.st_dev != was.st_dev || now.st_ino != was.st_ino || now.st_nlink != 2)
		err = EINVAL;
	else if (lseek(tmp->fd, 0, SEEK_END) < 0)
		err = errno;
	if (err) {
		unlinkat(st->dirfd, tmp->name, 0);
		if (tmp->fd >= 0)
			close(tmp->fd);
		tmp->fd = -1;
		errno = err;
		return -1;
	}
	*size = (uint64_t)now.st_size;
	return 0;
}

void jg_store_abort(struct jg_store *st, struct jg_store_temp *tmp)
{
	if (tmp->fd < 0)
		return;
	if (tmp->name[0])
		unlinkat(st->dirfd, tmp->name, 0);
	if (st->trash)
		jg_trash_add(st->trash, tmp->fd);
	else
		close(tmp->fd);
	tmp->fd = -1;
}

/* A named temporary file becomes `name`: closed, then renamed over it. */
static int commit_named(struct jg_store *st, struct jg_store_temp *tmp, const char *name)
{
	int fd = tmp->fd;
	tmp->fd = -1;
	if (close(fd) < 0 || renameat(st->dirfd, tmp->name, st->dirfd, name) < 0) {
		int err = errno;
		unlinkat(st->dirfd, tmp->name, 0);
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * An unnamed one: linked under `name` while that is free (the usual
 * case: one call, and linkat never replaces anything). A close that
 * fails after the link (a filesystem that reports write errors only
 * then) takes the name away again: the file may not be whole.
 */
static int commit_unnamed(struct jg_store *st, struct jg_store_temp *tmp, const char *name)
{
	if (link_fd(st->temps, tmp->fd, st->dirfd, name) < 0) {
		int err = errno;
		if (err == EEXIST && jg_store_name(st, tmp) == 0)
			return commit_named(st, tmp, name);
		close(tmp->fd);
		tmp->fd = -1;
		errno = err;
		return -1;
	}
	int fd = tmp->fd;
	tmp->fd = -1;
	if (close(fd) < 0) {
		int err = errno;
		unlinkat(st->dirfd, name, 0);
		errno = err;
		return -1;
	}
	return 0;
}

int jg_store_commit(struct jg_store *st, struct jg_store_temp *tmp, const char *name, char *why,
                    size_t why_len)
{
	int rc = tmp->name[0] ? commit_named(st, tmp, name) : commit_unnamed(st, tmp, name);
	if (rc < 0)
		snprintf(why, why_len, "%s/%s: %s", st->dir, name, strerror(errno));
	return rc;
}

int jg_store_save(struct jg_store *st, const char *name, const void *buf, size_t len,
                  char *why, size_t why_len)
{
	struct jg_store_temp tmp;
	if (jg_store_begin(st, &tmp, why, why_len) < 0)
		return -1;
	if (jg_write_all(tmp.fd, buf, len) < 0) {
		snprintf(why, why_len, "%s/%s: %s", st->dir, name, strerror(errno));
		jg_store_abort(st, &tmp);
		return -1;
	}
	return jg_store_commit(st, &tmp, name, why, why_len);
}
