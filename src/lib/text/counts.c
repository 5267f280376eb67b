#include "counts.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A shard's first table: 64 slots, 2 KiB; all 64 of them make 128 KiB. */
enum { SHARD_FIRST_SLOTS = 64 };

void jg_counts_init(struct jg_counts *c)
{
	for (unsigned i = 0; i < JG_COUNTS_SHARDS; i++) {
		jg_wc_init(&c->shard[i]);
		c->shard[i].first_slots = SHARD_FIRST_SLOTS;
	}
}

void jg_counts_fini(struct jg_counts *c)
{
	for (unsigned i = 0; i < JG_COUNTS_SHARDS; i++)
		jg_wc_fini(&c->shard[i]);
}

void jg_counts_clear(struct jg_counts *c)
{
	for (unsigned i = 0; i < JG_COUNTS_SHARDS; i++)
		if (c->shard[i].distinct)
			jg_wc_clear(&c->shard[i]);
}

int jg_counts_add(struct jg_counts *c, const char *word, size_t len, uint32_t hash, uint64_t n)
{
	return jg_wc_add(&c->shard[jg_counts_shard_of(hash)], word, len, hash, n);
}

int jg_counts_drain(struct jg_counts *dst, struct jg_counts *src, struct jg_counts_cursor *at,
                    size_t *budget)
{
	for (; at->shard < JG_COUNTS_SHARDS; at->shard++, at->slot = 0) {
		struct jg_wordcount *from = &src->shard[at->shard];
		struct jg_wordcount *to = &dst->shard[at->shard];
		for (; from->distinct && at->slot <= from->mask; at->slot++) {
			if (*budget == 0)
				return 0;
			--*budget;
			const struct jg_word *e = &from->slots[at->slot];
			if (e->word && jg_wc_add(to, e->word, e->len, e->hash, e->count) < 0)
				return -1;
		}
		if (from->distinct)
			jg_wc_clear(from);
	}
	return 1;
}

JG_EXPORT struct jg_counts *jg_counts_new(void)
{
	struct jg_counts *c = malloc(sizeof *c);
	if (c)
		jg_counts_init(c);
	return c;
}

JG_EXPORT void jg_counts_free(struct jg_counts *c)
{
	if (!c)
		return;
	jg_counts_fini(c);
	free(c);
}

JG_EXPORT uint64_t jg_counts_total(const struct jg_counts *c)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < JG_COUNTS_SHARDS; i++)
		total += c->shard[i].total;
	return total;
}

JG_EXPORT uint64_t jg_counts_distinct(const struct jg_counts *c)
{
	uint64_t distinct = 0;
	for (unsigned i = 0; i < JG_COUNTS_SHARDS; i++)
		distinct += c->shard[i].distinct;
	return distinct;
}

JG_EXPORT uint64_t jg_counts_get(const struct jg_counts *c, const char *word)
{
	size_t len = strlen(word);
	return jg_wc_get(&c->shard[jg_counts_shard_of(jg_wc_hash(word, len))], word, len);
}

JG_EXPORT int jg_counts_merge(struct jg_counts *dst, const struct jg_counts *src)
{
	/* No word's count exceeds the total: a sum that fits fits for all. */
	uint64_t have = jg_counts_total(dst);
	if (have + jg_counts_total(src) < have)
		return JG_EINVAL;
	for (unsigned i = 0; i < JG_COUNTS_SHARDS; i++)
		if (jg_wc_merge(&dst->shard[i], &src->shard[i]) < 0)
			return JG_ENOMEM;
	return JG_OK;
}

JG_EXPORT size_t jg_counts_top(const struct jg_counts *c, size_t n, struct jg_word_count *out)
{
	const struct jg_word **top = malloc((n ? n : 1) * sizeof *top);
	if (!top)
		return 0;
	size_t got = jg_wc_top_of(c->shard, JG_COUNTS_SHARDS, n, top);
	for (size_t i = 0; i < got; i++) {
		out[i].word = top[i]->word;
		out[i].count = top[i]->count;
	}
	free(top);
	return got;
}

/*
 * A temporary file beside `name` in `dirfd`, created here and now: a
 * name nobody could have planted (a symlink there is never followed).
 */
static int open_temp(int dirfd, const char *name, char *temp, size_t temp_len)
{
	static _Atomic unsigned serial;
	for (int tries = 0; tries < 100; tries++) {
		snprintf(temp, temp_len, ".%.200s.jg-%ld-%u.part", name, (long)getpid(), serial++);
		int fd = openat(dirfd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

JG_EXPORT int jg_counts_write_tsv_fd(const struct jg_counts *c, int fd)
{
	if (!c || fd < 0)
		return JG_EINVAL;
	/* A stream of its own over a copy: closing it leaves `fd` open. */
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	FILE *f = copy >= 0 ? fdopen(copy, "w") : NULL;
	if (!f) {
		int saved = errno;
		if (copy >= 0)
			close(copy);
		errno = saved;
		return saved == ENOMEM ? JG_ENOMEM : JG_EIO;
	}
	int rc = jg_wc_write_tsv_of(c->shard, JG_COUNTS_SHARDS, f);
	int saved = errno;
	if (fclose(f) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	errno = saved;
	return rc < 0 ? JG_EIO : JG_OK;
}

JG_EXPORT int jg_counts_write_tsv_at(const struct jg_counts *c, int dirfd, const char *name)
{
	char temp[300];
	int fd = open_temp(dirfd, name, temp, sizeof temp);
	if (fd < 0)
		return JG_EIO;
	FILE *f = fdopen(fd, "w");
	int rc = f ? jg_wc_write_tsv_of(c->shard, JG_COUNTS_SHARDS, f) : -1;
	if (!f)
		close(fd);
	else if (fclose(f) != 0)
		rc = -1;
	int saved = errno;
	if (rc == 0 && renameat(dirfd, temp, dirfd, name) < 0)
		rc = -1;
	if (rc < 0) {
		saved = errno;
		unlinkat(dirfd, temp, 0);
	}
	errno = saved;
	return rc < 0 ? JG_EIO : JG_OK;
}

/* The directory part of `path` opened, its last part in *base. */
static int open_parent(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	*base = slash ? slash + 1 : path;
	if (!slash)
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	free(dir);
	return fd;
}

JG_EXPORT int jg_counts_write_tsv(const struct jg_counts *c, const char *path)
{
	const char *base;
	int dirfd = open_parent(path, &base);
	if (dirfd < 0)
		return JG_EIO;
	int rc = jg_counts_write_tsv_at(c, dirfd, base);
	int saved = errno;
	close(dirfd);
	errno = saved;
	return rc;
}

/*
 * One "word<TAB>count" line. The count follows the last tab, so a word is
 * whatever precedes it; a word never holds a newline (the tokenizers
 * split on white space).
 */
static int parse_line(char *line, size_t len, const char **word, size_t *wlen, uint64_t *count)
{
	char *tab = memrchr(line, '\t', len);
	if (!tab || tab == line || tab + 1 == line + len)
		return -1;
	/*
	 * Digits and nothing else: strtoull alone would skip spaces and take
	 * a sign, reading " -1" as 2^64-1.
	 */
	uint64_t v = 0;
	for (const char *p = tab + 1; p < line + len; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v == 0)
		return -1;
	*word = line;
	*wlen = (size_t)(tab - line);
	*count = v;
	return 0;
}

static int read_tsv(struct jg_counts *c, FILE *f, const char *path, char *errbuf);

JG_EXPORT int jg_counts_read_tsv(struct jg_counts *c, const char *path, char *errbuf)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errbuf)
			snprintf(errbuf, JG_ERRBUF_SIZE, "%s: %s", path, strerror(errno));
		return JG_EIO;
	}
	return read_tsv(c, f, path, errbuf);
}

JG_EXPORT int jg_counts_read_tsv_at(struct jg_counts *c, int dirfd, const char *name,
                                    char *errbuf)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	FILE *f = NULL;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		f = fdopen(fd, "r");
	if (!f) {
		if (errbuf)
			snprintf(errbuf, JG_ERRBUF_SIZE, "%.200s: %s", name,
			         fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return JG_EIO;
	}
	return read_tsv(c, f, name, errbuf);
}

/* Reads and closes `f`. */
static int read_tsv(struct jg_counts *c, FILE *f, const char *path, char *errbuf)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned long no = 0;
	int rc = JG_OK;
	uint64_t total = jg_counts_total(c);
	while ((got = getline(&line, &cap, f)) > 0) {
		no++;
		size_t len = (size_t)got;
		if (line[len - 1] != '\n') {
			rc = JG_EIO;
			if (errbuf)
				snprintf(errbuf, JG_ERRBUF_SIZE, "%.180s:%lu: the last line is cut short", path, no);
			break;
		}
		const char *word;
		size_t wlen;
		uint64_t count;
		if (parse_line(line, len - 1, &word, &wlen, &count) < 0) {
			rc = JG_EIO;
			if (errbuf)
				snprintf(errbuf, JG_ERRBUF_SIZE, "%.180s:%lu: not a word<TAB>count line", path, no);
			break;
		}
		if (total + count < total) {
			rc = JG_EIO;
			if (errbuf)
				snprintf(errbuf, JG_ERRBUF_SIZE, "%.180s:%lu: the counts add up past 2^64", path,
				         no);
			break;
		}
		total += count;
		if (jg_counts_add(c, word, wlen, jg_wc_hash(word, wlen), count) < 0) {
			rc = JG_ENOMEM;
			if (errbuf)
				snprintf(errbuf, JG_ERRBUF_SIZE, "out of memory");
			break;
		}
	}
	if (rc == JG_OK && ferror(f)) {
		rc = JG_EIO;
		if (errbuf)
			snprintf(errbuf, JG_ERRBUF_SIZE, "%.180s: %s", path, strerror(errno));
	}
	free(line);
	fclose(f);
	return rc;
}
