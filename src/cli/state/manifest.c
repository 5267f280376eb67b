#include "manifest.h"
#include "say.h"

#include "grow.h"

#include "juggle.h"
#include "shard.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- the in-memory manifest --------------------------------------------- */

void jg_mf_init(struct jg_manifest *m)
{
	memset(m, 0, sizeof *m);
}

static void book_fini(struct jg_mf_book *b)
{
	free(b->text);
	free(b->url);
	free(b->file);
	free(b->sha256);
	free(b->etag);
	free(b->last_modified);
	free(b->content_type);
	free(b->final_url);
	free(b->error);
	free(b->top);
	free(b->charset);
	free(b->charset_from);
}

void jg_mf_fini(struct jg_manifest *m)
{
	for (size_t i = 0; i < m->n_books; i++)
		book_fini(&m->books[i]);
	for (size_t i = 0; i < m->n_input_errors; i++) {
		free(m->input_errors[i].source);
		free(m->input_errors[i].text);
		free(m->input_errors[i].error);
	}
	free(m->books);
	free(m->slots);
	free(m->input_errors);
	free(m->juggle_version);
	free(m->count_mode);
	jg_mf_init(m);
}

static uint64_t url_hash(const char *url)
{
	return jg_shard_hash(url, strlen(url));
}

/* The slot of `text`: its entry, or the empty one it would take. */
static size_t slot_of(const struct jg_manifest *m, const char *text)
{
	size_t i = (size_t)url_hash(text) & m->mask;
	while (m->slots[i] && strcmp(m->books[m->slots[i] - 1].text, text) != 0)
		i = (i + 1) & m->mask;
	return i;
}

static int grow_slots(struct jg_manifest *m)
{
	size_t cap = m->slots ? (m->mask + 1) * 2 : 1024;
	uint32_t *old = m->slots;
	size_t old_cap = m->slots ? m->mask + 1 : 0;
	if (!(m->slots = calloc(cap, sizeof *m->slots))) {
		m->slots = old;
		return -1;
	}
	m->mask = cap - 1;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			m->slots[slot_of(m, m->books[old[i] - 1].text)] = old[i];
	free(old);
	return 0;
}

/* The journal keeps no password a URL carried (jg_mask_secrets): its
 * books are found, and kept, by their masked text. */
struct jg_mf_book *jg_mf_find(const struct jg_manifest *m, const char *text)
{
	if (!m->slots)
		return NULL;
	char *masked = jg_mask_secrets(text);
	if (!masked)
		return NULL;
	uint32_t at = m->slots[slot_of(m, masked)];
	free(masked);
	return at ? &m->books[at - 1] : NULL;
}

static char *dup_or_null(const char *s, int *failed)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*failed = 1;
	return d;
}

static char *dup_masked(const char *s, int *failed)
{
	if (!s)
		return NULL;
	char *d = jg_mask_secrets(s);
	if (!d)
		*failed = 1;
	return d;
}

static int copy_book(struct jg_mf_book *dst, const struct jg_mf_book *src)
{
	int failed = 0;
	*dst = *src;
	dst->text = dup_masked(src->text, &failed);
	dst->url = dup_masked(src->url, &failed);
	dst->file = dup_or_null(src->file, &failed);
	dst->sha256 = dup_or_null(src->sha256, &failed);
	dst->etag = dup_or_null(src->etag, &failed);
	dst->last_modified = dup_or_null(src->last_modified, &failed);
	dst->content_type = dup_or_null(src->content_type, &failed);
	dst->final_url = dup_masked(src->final_url, &failed);
	dst->error = dup_masked(src->error, &failed);
	dst->top = dup_or_null(src->top, &failed);
	dst->charset = dup_or_null(src->charset, &failed);
	dst->charset_from = dup_or_null(src->charset_from, &failed);
	if (failed) {
		book_fini(dst);
		return -1;
	}
	return 0;
}

int jg_mf_put(struct jg_manifest *m, const struct jg_mf_book *b)
{
	if (!b->text || !b->url)
		return -1;
	if ((m->n_books + 1) * 2 > (m->slots ? m->mask + 1 : 0) && grow_slots(m) < 0)
		return -1;
	struct jg_mf_book copy;
	if (copy_book(&copy, b) < 0)
		return -1;
	size_t i = slot_of(m, copy.text); /* masked, as every key */
	if (m->slots[i]) {
		struct jg_mf_book *old = &m->books[m->slots[i] - 1];
		/* The snapshot holds the counts of the version it sealed. */
		if (old->sealed && !copy.sealed)
			m->seal_broken = 1;
		book_fini(old);
		*old = copy;
		return 0;
	}
	if (m->n_books == m->cap_books) {
		size_t cap = m->cap_books ? m->cap_books * 2 : 256;
		struct jg_mf_book *books = realloc(m->books, cap * sizeof *books);
		if (!books) {
			book_fini(&copy);
			return -1;
		}
		m->books = books;
		m->cap_books = cap;
	}
	m->books[m->n_books++] = copy;
	m->slots[i] = (uint32_t)m->n_books;
	return 0;
}

int jg_mf_put_input_error(struct jg_manifest *m, const struct jg_mf_input_error *e)
{
	if (jg_grow(&m->input_errors, &m->cap_input_errors, m->n_input_errors,
	            sizeof *m->input_errors, 16) < 0)
		return -1;
	int failed = 0;
	struct jg_mf_input_error *d = &m->input_errors[m->n_input_errors];
	d->line = e->line;
	d->source = dup_or_null(e->source, &failed);
	d->text = dup_or_null(e->text, &failed);
	d->error = dup_or_null(e->error, &failed);
	if (failed) {
		free(d->source);
		free(d->text);
		free(d->error);
		return -1;
	}
	m->n_input_errors++;
	return 0;
}

/* ---- lines: key=value fields, escaped, and a CRC ------------------------ */

struct line {
	char *buf;
	size_t len, cap;
	int failed;
};

static void put(struct line *l, const char *p, size_t n)
{
	if (l->failed)
		return;
	if (l->len + n + 1 > l->cap) {
		size_t cap = l->cap ? l->cap : 512;
		while (cap < l->len + n + 1)
			cap *= 2;
		char *b = realloc(l->buf, cap);
		if (!b) {
			l->failed = 1;
			return;
		}
		l->buf = b;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
}

/* A value never holds a raw tab or line break: they are escaped; nor a
 * URL's password (jg_mask_secrets). */
static void put_field(struct line *l, const char *key, const char *value)
{
	if (!value)
		return;
	/* A password hides before an '@': without one there is none to mask
	 * (and no copy to make, for most of a book's fields). */
	int may_hide = strchr(value, '@') != NULL;
	char *masked = may_hide ? jg_mask_secrets(value) : NULL;
	if (may_hide && !masked) {
		l->failed = 1;
		return;
	}
	put(l, "\t", 1);
	put(l, key, strlen(key));
	put(l, "=", 1);
	for (const char *p = masked ? masked : value; *p;) {
		size_t plain = strcspn(p, "\\\t\n\r");
		put(l, p, plain);
		p += plain;
		if (!*p)
			break;
		char esc[2] = {'\\', *p == '\t' ? 't' : *p == '\n' ? 'n' : *p == '\r' ? 'r' : '\\'};
		put(l, esc, 2);
		p++;
	}
	free(masked);
}

static void put_u64(struct line *l, const char *key, uint64_t v)
{
	char num[24];
	snprintf(num, sizeof num, "%" PRIu64, v);
	put_field(l, key, num);
}

static void put_i64(struct line *l, const char *key, int64_t v)
{
	char num[24];
	snprintf(num, sizeof num, "%" PRId64, v);
	put_field(l, key, num);
}

/*
 * Whole records, in one write(2), O_APPEND: a kill leaves at most the
 * last line cut short, which the loader drops. 0, or -1 with errno.
 */
static int append(struct jg_mf_writer *w, const char *p, size_t n)
{
	ssize_t got = write(w->fd, p, n);
	if (got == (ssize_t)n)
		return 0;
	if (got >= 0)
		errno = ENOSPC;
	return -1;
}

/* A record kept for the next jg_mf_flush(), which comes sooner when they
 * pass JG_MF_HOLD_MAX bytes. 0, or -1 with errno. */
static int hold(struct jg_mf_writer *w, const char *p, size_t n)
{
	if (w->held_len + n > JG_MF_HOLD_MAX && jg_mf_flush(w) < 0)
		return -1;
	if (n > JG_MF_HOLD_MAX)
		return append(w, p, n);
	if (!w->held && !(w->held = malloc(JG_MF_HOLD_MAX))) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(w->held + w->held_len, p, n);
	w->held_len += n;
	return 0;
}

int jg_mf_flush(struct jg_mf_writer *w)
{
	if (w->failed)
		return -1;
	if (!w->held_len)
		return 0;
	int rc = append(w, w->held, w->held_len);
	w->held_len = 0;
	if (rc < 0) {
		w->failed = 1;
		w->err = errno;
	}
	return rc;
}

void jg_mf_hold(struct jg_mf_writer *w)
{
	w->holding = 1;
}

/* Ends the line with "\t#" and the CRC-32 of all that precedes it. */
static int line_write(struct jg_mf_writer *w, struct line *l)
{
	char tail[16];
	uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)l->buf, (uInt)l->len);
	snprintf(tail, sizeof tail, "\t#%08x\n", crc);
	put(l, tail, strlen(tail));
	int rc = -1;
	if (l->failed)
		errno = ENOMEM;
	else if (w->fd >= 0 && !w->failed)
		rc = w->holding ? hold(w, l->buf, l->len) : append(w, l->buf, l->len);
	else
		errno = w->failed ? w->err : EBADF;
	if (rc < 0 && !w->failed) {
		w->failed = 1;
		w->err = errno;
	}
	free(l->buf);
	return rc;
}

static void unescape(char *s)
{
	char *out = s;
	for (char *p = s; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			*out++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
}

enum { MAX_FIELDS = 32 };

struct fields {
	char *type;
	size_t n;
	char *key[MAX_FIELDS], *value[MAX_FIELDS];
	int bad;       /* a value is not what juggle writes (set by field_u64) */
};

/*
 * Checks and splits one line (without its '\n') in place. 0, or -1 when
 * the CRC does not match or the line is not made of key=value fields.
 */
static int split_line(char *line, size_t len, struct fields *f)
{
	char *hash = len >= 10 ? line + len - 10 : NULL;
	if (!hash || hash[0] != '\t' || hash[1] != '#')
		return -1;
	char *end;
	unsigned long want = strtoul(hash + 2, &end, 16);
	if (end != line + len)
		return -1;
	if ((uint32_t)crc32(0L, (const Bytef *)line, (uInt)(hash - line)) != (uint32_t)want)
		return -1;
	*hash = '\0';
	f->n = 0;
	f->bad = 0;
	f->type = line;
	char *p = strchr(line, '\t');
	while (p) {
		*p++ = '\0';
		char *next = strchr(p, '\t');
		char *eq = strchr(p, '=');
		if (!eq || (next && eq > next) || f->n == MAX_FIELDS)
			return -1;
		*eq = '\0';
		f->key[f->n] = p;
		f->value[f->n] = eq + 1;
		f->n++;
		p = next;
	}
	for (size_t i = 0; i < f->n; i++)
		unescape(f->value[i]);
	return 0;
}

static const char *field(const struct fields *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->key[i], key) == 0)
			return f->value[i];
	return NULL;
}

/*
 * A number as juggle writes them: decimal digits only, within 64 bits, at
 * most `max`. Anything else marks the record bad: the CRC tells damage
 * from a whole line, not a line written to mislead.
 */
static uint64_t field_u64(struct fields *f, const char *key, uint64_t max)
{
	const char *v = field(f, key);
	if (!v)
		return 0;
	uint64_t n = 0;
	if (!*v)
		f->bad = 1;
	for (; *v; v++) {
		unsigned d = (unsigned)(*v - '0');
		if (d > 9 || n > (UINT64_MAX - d) / 10) {
			f->bad = 1;
			return 0;
		}
		n = n * 10 + d;
	}
	if (n > max)
		f->bad = 1;
	return n;
}

/* A name as the session gives books: one path segment, no leading dot. */
static int book_name_safe(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > JG_NAME_LIMIT || name[0] == '.' || strchr(name, '/'))
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* Bounds of the figures a record may hold (far past any real one). */
#define COUNT_MAX (1ULL << 48)

/* ---- records ------------------------------------------------------------- */

int jg_mf_write_header(struct jg_mf_writer *w, const struct jg_manifest *m)
{
	struct line l = {0};
	char hash[24], shard[32];
	put(&l, "H", 1);
	put_u64(&l, "format", JG_MF_VERSION);
	put_field(&l, "juggle", m->juggle_version);
	snprintf(hash, sizeof hash, "%016" PRIx64, m->list_hash);
	put_field(&l, "list", hash);
	put_u64(&l, "list_urls", m->list_urls);
	snprintf(hash, sizeof hash, "%016" PRIx64, m->list_order);
	put_field(&l, "order", hash);
	snprintf(shard, sizeof shard, "%u/%u", m->shard_k, m->shard_n);
	put_field(&l, "shard", shard);
	put_u64(&l, "accepted", m->accepted);
	put_field(&l, "count", m->count_mode);
	return line_write(w, &l);
}

int jg_mf_write_book(struct jg_mf_writer *w, const struct jg_mf_book *b)
{
	struct line l = {0};
	put(&l, b->other ? "O" : b->ok ? "B" : "F", 1);
	put_u64(&l, "index", b->index);
	put_field(&l, "text", b->text);
	put_field(&l, "url", b->url);
	if (b->ok) {
		put_field(&l, "file", b->file);
		put_u64(&l, "bytes", b->bytes);
		put_i64(&l, "mtime_ns", b->mtime_ns);
		put_field(&l, "sha256", b->sha256);
		put_field(&l, "etag", b->etag);
		put_field(&l, "last_modified", b->last_modified);
		put_field(&l, "content_type", b->content_type);
		put_field(&l, "charset", b->charset);
		put_field(&l, "charset_from", b->charset_from);
		if (b->pending)
			put_field(&l, "pending", "1");
	} else {
		put_u64(&l, "err", (uint64_t)(int64_t)b->err);
		put_field(&l, "error", b->error);
	}
	put_u64(&l, "http", (uint64_t)b->http);
	put_u64(&l, "attempts", b->attempts);
	if (b->redirects) {
		put_u64(&l, "redirects", b->redirects);
		put_field(&l, "final_url", b->final_url);
	}
	if (b->counted) {
		put_u64(&l, "words", b->words);
		put_u64(&l, "distinct", b->distinct);
		put_field(&l, "top", b->top ? b->top : "");
	}
	return line_write(w, &l);
}

int jg_mf_write_input_error(struct jg_mf_writer *w, const struct jg_mf_input_error *e)
{
	struct line l = {0};
	put(&l, "E", 1);
	put_field(&l, "source", e->source);
	put_u64(&l, "line", e->line);
	put_field(&l, "text", e->text);
	put_field(&l, "error", e->error);
	return line_write(w, &l);
}

int jg_mf_write_seal(struct jg_mf_writer *w, const struct jg_mf_seal *s)
{
	struct line l = {0};
	char crc[12];
	put(&l, "S", 1);
	put_u64(&l, "gen", s->gen);
	put_u64(&l, "books", s->books);
	put_u64(&l, "words", s->words);
	put_u64(&l, "distinct", s->distinct);
	snprintf(crc, sizeof crc, "%08x", s->crc);
	put_field(&l, "crc", crc);
	/* Out at once, with every record it covers. */
	return line_write(w, &l) < 0 ? -1 : jg_mf_flush(w);
}

static int take_header(struct jg_manifest *m, struct fields *f)
{
	const char *format = field(f, "format"), *list = field(f, "list"), *shard = field(f, "shard");
	const char *order = field(f, "order"), *count = field(f, "count");
	if (!format || strtoul(format, NULL, 10) != JG_MF_VERSION || !list || !shard || !order ||
	    !count || !field(f, "juggle"))
		return -1;
	m->list_hash = strtoull(list, NULL, 16);
	m->list_order = strtoull(order, NULL, 16);
	m->list_urls = field_u64(f, "list_urls", COUNT_MAX);
	m->accepted = field_u64(f, "accepted", m->list_urls);
	if (f->bad)
		return -1;
	/* Checked as input: a CRC tells damage, not a file made to mislead. */
	if (sscanf(shard, "%" SCNu32 "/%" SCNu32, &m->shard_k, &m->shard_n) != 2 ||
	    m->shard_n > JG_SHARDS_MAX || (m->shard_n && m->shard_k >= m->shard_n) ||
	    (!m->shard_n && m->shard_k))
		return -1;
	int failed = 0;
	m->juggle_version = dup_or_null(field(f, "juggle"), &failed);
	m->count_mode = dup_or_null(field(f, "count"), &failed);
	return failed ? -1 : 0;
}

/* A signed number as juggle writes them (put_i64). */
static int64_t field_i64(struct fields *f, const char *key)
{
	const char *v = field(f, key);
	if (!v)
		return 0;
	int neg = *v == '-';
	uint64_t n = 0;
	if (!v[neg])
		f->bad = 1;
	for (const char *p = v + neg; *p; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (d > 9 || n > ((uint64_t)INT64_MAX + neg - d) / 10) {
			f->bad = 1;
			return 0;
		}
		n = n * 10 + d;
	}
	return neg ? (int64_t)(0 - n) : (int64_t)n;
}

static int take_book(struct jg_manifest *m, struct fields *f, int ok, int other)
{
	struct jg_mf_book b;
	memset(&b, 0, sizeof b);
	b.ok = ok;
	b.other = other;
	b.index = field_u64(f, "index", COUNT_MAX);
	b.text = (char *)field(f, "text");
	b.url = (char *)field(f, "url");
	b.file = (char *)field(f, "file");
	/* A saved book's file is one name in DIR, as the session names books:
	 * never "../x" nor an absolute path, whoever wrote this line. */
	if (!b.text || !b.url || (ok && !book_name_safe(b.file)))
		return -1;
	b.bytes = field_u64(f, "bytes", JG_MAX_SIZE_LIMIT);
	b.mtime_ns = field_i64(f, "mtime_ns");
	b.sha256 = (char *)field(f, "sha256");
	b.etag = (char *)field(f, "etag");
	b.last_modified = (char *)field(f, "last_modified");
	b.content_type = (char *)field(f, "content_type");
	b.charset = (char *)field(f, "charset");
	b.charset_from = (char *)field(f, "charset_from");
	b.final_url = (char *)field(f, "final_url");
	b.error = (char *)field(f, "error");
	/* A failure names its kind: a negative jg_err. */
	const char *err = field(f, "err");
	b.err = (int)(int64_t)field_u64(f, "err", UINT64_MAX);
	if (!ok && (!err || b.err >= 0 || b.err < -1000))
		return -1;
	b.http = (long)field_u64(f, "http", 999);
	b.attempts = (unsigned)field_u64(f, "attempts", 1000);
	b.redirects = (unsigned)field_u64(f, "redirects", 1000);
	b.top = (char *)field(f, "top");
	b.counted = b.top != NULL;
	b.pending = field(f, "pending") != NULL;
	/* A word takes a byte at least; a distinct word is a word. */
	b.words = field_u64(f, "words", b.bytes);
	b.distinct = field_u64(f, "distinct", b.words);
	if (f->bad)
		return -1;
	return jg_mf_put(m, &b);
}

static int take_seal(struct jg_manifest *m, struct fields *f)
{
	const char *crc = field(f, "crc");
	if (!crc)
		return -1;
	m->has_seal = 1;
	m->seal_broken = 0;
	m->seal.gen = field_u64(f, "gen", COUNT_MAX);
	m->seal.books = field_u64(f, "books", COUNT_MAX);
	m->seal.words = field_u64(f, "words", UINT64_MAX);
	m->seal.distinct = field_u64(f, "distinct", m->seal.words);
	m->seal.crc = (uint32_t)strtoul(crc, NULL, 16);
	if (f->bad)
		return -1;
	/* Every book saved so far has its counts in that snapshot, but those
	 * carried over as pending, whose counts are in none. */
	for (size_t i = 0; i < m->n_books; i++)
		m->books[i].sealed = m->books[i].ok && !m->books[i].pending && !m->books[i].other;
	return 0;
}

static int take_line(struct jg_manifest *m, char *line, size_t len, unsigned long no)
{
	struct fields f;
	if (split_line(line, len, &f) < 0)
		return -1;
	if (no == 1)
		return strcmp(f.type, "H") == 0 ? take_header(m, &f) : -1;
	if (strcmp(f.type, "B") == 0 || strcmp(f.type, "F") == 0 || strcmp(f.type, "O") == 0)
		return take_book(m, &f, f.type[0] != 'F', f.type[0] == 'O');
	if (strcmp(f.type, "S") == 0)
		return take_seal(m, &f);
	if (strcmp(f.type, "E") == 0) {
		struct jg_mf_input_error e = {(char *)field(&f, "source"), (char *)field(&f, "text"),
		                              (char *)field(&f, "error"),
		                              (unsigned long)field_u64(&f, "line", COUNT_MAX)};
		return f.bad ? -1 : jg_mf_put_input_error(m, &e);
	}
	return -1;
}

int jg_mf_open_dir(const char *dir, int create, char *why, size_t why_len)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(why, why_len, "%.300s: %s", dir, strerror(errno));
		return -1;
	}
	if (create && mkdirat(dfd, JG_MF_DIR, 0777) < 0 && errno != EEXIST) {
		snprintf(why, why_len, "%.300s/%s: %s", dir, JG_MF_DIR, strerror(errno));
		close(dfd);
		return -1;
	}
	/* Opened as itself, never through a symlink: whoever can write DIR
	 * must not make juggle write into another directory. */
	int jfd = openat(dfd, JG_MF_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int err = errno;
	close(dfd);
	if (jfd < 0) {
		if (err == ENOTDIR || err == ELOOP)
			snprintf(why, why_len, "%.300s/%s is not a directory (a symlink or a file): "
			         "refusing to use it", dir, JG_MF_DIR);
		else
			snprintf(why, why_len, "%.300s/%s: %s", dir, JG_MF_DIR, strerror(err));
		errno = err;
		return -1;
	}
	return jfd;
}

/* `name` in `dirfd` for reading: a regular file, no symlink followed. */
static FILE *open_regular(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

int jg_mf_load(struct jg_manifest *m, int jfd, const char *dir, char *why, size_t why_len)
{
	FILE *f = open_regular(jfd, "manifest");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, why_len, "%.300s/%s/manifest: %s", dir, JG_MF_DIR,
		         errno == ELOOP ? "a symlink: not juggle's" : errno == EINVAL
		                                                    ? "not a regular file"
		                                                    : strerror(errno));
		return -1;
	}
	m->found = 1;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned long no = 0;
	while ((got = getline(&line, &cap, f)) > 0) {
		no++;
		size_t len = (size_t)got;
		int whole = line[len - 1] == '\n';
		if (whole)
			line[--len] = '\0';
		/* A NUL would hide the fields after it from the parse, not the CRC. */
		if (!memchr(line, '\0', len) && take_line(m, line, len, no) == 0 && whole)
			continue;
		/* Cut short (no newline: a record ends with one, written by one
		 * write(2)): the record a kill interrupted. A whole line that is
		 * wrong is not what we wrote, wherever it is. */
		if (whole)
			m->bad_line = no;
		else
			m->torn_line = no;
		break;
	}
	int err = ferror(f);
	free(line);
	fclose(f);
	if (err) {
		snprintf(why, why_len, "%.300s/%s/manifest: read error", dir, JG_MF_DIR);
		return -1;
	}
	return 0;
}

/* ---- writing the journal ------------------------------------------------- */

int jg_mf_begin(struct jg_mf_writer *w, int jfd, const char *dir, char *why, size_t why_len)
{
	memset(w, 0, sizeof *w);
	w->fd = -1;
	w->jfd = jfd;
	size_t n = strlen(dir) + sizeof JG_MF_DIR + 2;
	if (!(w->dir = malloc(n))) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	snprintf(w->dir, n, "%s/%s", dir, JG_MF_DIR);
	/* A new file of our own: whatever sat under the name (a planted
	 * symlink among others) is removed, not written through. */
	if (unlinkat(jfd, "manifest.part", 0) < 0 && errno != ENOENT) {
		snprintf(why, why_len, "%.300s/manifest.part: %s", w->dir, strerror(errno));
		return -1;
	}
	w->fd = openat(jfd, "manifest.part",
	               O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (w->fd < 0) {
		snprintf(why, why_len, "%.300s/manifest.part: %s", w->dir, strerror(errno));
		return -1;
	}
	return 0;
}

int jg_mf_commit(struct jg_mf_writer *w, char *why, size_t why_len)
{
	if (jg_mf_flush(w) < 0) {
		snprintf(why, why_len, "%.300s/manifest.part: %s", w->dir, strerror(w->err));
		return -1;
	}
	/* The descriptor stays open on the renamed file: appends go on. */
	if (renameat(w->jfd, "manifest.part", w->jfd, "manifest") < 0) {
		snprintf(why, why_len, "%.300s/manifest: %s", w->dir, strerror(errno));
		return -1;
	}
	return 0;
}

void jg_mf_close(struct jg_mf_writer *w)
{
	if (w->fd >= 0) {
		jg_mf_flush(w);
		close(w->fd);
	}
	free(w->held);
	free(w->dir);
	w->fd = -1;
	w->dir = NULL;
	w->held = NULL;
	w->held_len = 0;
}

int jg_mf_seal_consistent(const struct jg_manifest *m)
{
	uint64_t words = 0;
	for (size_t i = 0; i < m->n_books; i++) {
		const struct jg_mf_book *b = &m->books[i];
		if (b->sealed && __builtin_add_overflow(words, b->words, &words))
			return 0;
	}
	return m->has_seal && words == m->seal.words;
}

void jg_mf_snapshot_name(uint64_t gen, char *out, size_t len)
{
	snprintf(out, len, "counts.%" PRIu64 ".tsv", gen);
}

int jg_mf_file_crc(int jfd, const char *name, uint32_t *crc)
{
	FILE *f = open_regular(jfd, name);
	if (!f)
		return -1;
	char buf[1 << 16];
	uLong c = crc32(0L, Z_NULL, 0);
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		c = crc32(c, (const Bytef *)buf, (uInt)n);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		errno = EIO;
		return -1;
	}
	*crc = (uint32_t)c;
	return 0;
}

/* "word:count word:count": words hold no white space, and a word's count
 * follows its last ':'. */
static size_t parse_top(const char *text, struct jg_word_count *top, size_t max, char *words,
                        size_t words_len)
{
	size_t n = 0, used = 0;
	for (const char *p = text ? text : ""; *p && n < max;) {
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *colon = memrchr(p, ':', len);
		if (!colon || used + (size_t)(colon - p) + 1 > words_len)
			break;
		size_t wl = (size_t)(colon - p);
		memcpy(words + used, p, wl);
		words[used + wl] = '\0';
		top[n].word = words + used;
		top[n++].count = strtoull(colon + 1, NULL, 10);
		used += wl + 1;
		p += len + (end ? 1 : 0);
	}
	return n;
}

void jg_mf_book_counts(const struct jg_mf_book *b, struct jg_result *res,
                       struct jg_word_count top[JG_MF_TOP_MAX], char *words, size_t words_len)
{
	res->counted = 1;
	res->words = b->words;
	res->distinct = b->distinct;
	res->top = top;
	res->n_top = parse_top(b->top, top, JG_MF_TOP_MAX, words, words_len);
	res->charset = b->charset;
	res->charset_from = b->charset_from;
}

/* "word:count word:count", parse_top's text: words hold no white space. */
static char *top_text(const struct jg_result *res)
{
	size_t n = 1;
	for (size_t i = 0; i < res->n_top; i++)
		n += strlen(res->top[i].word) + 22;
	char *s = malloc(n), *p = s;
	if (!s)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < res->n_top; i++)
		p += sprintf(p, "%s%s:%" PRIu64, i ? " " : "", res->top[i].word, res->top[i].count);
	return s;
}

void jg_mf_book_from_result(struct jg_mf_book *b, const struct jg_result *res, const char *text,
                            uint64_t index)
{
	memset(b, 0, sizeof *b);
	b->ok = res->err == JG_OK;
	b->index = index;
	b->text = (char *)text;
	b->url = (char *)res->url;
	b->http = res->http_code;
	b->attempts = res->attempts;
	b->redirects = res->redirects;
	b->final_url = (char *)res->final_url;
	if (!b->ok) {
		b->err = res->err;
		b->error = (char *)res->error;
		return;
	}
	const char *slash = strrchr(res->file, '/');
	b->file = (char *)(slash ? slash + 1 : res->file);
	b->bytes = res->bytes;
	b->sha256 = (char *)res->sha256;
	b->etag = (char *)res->etag;
	b->last_modified = (char *)res->last_modified;
	b->content_type = (char *)res->content_type;
	b->charset = (char *)res->charset;
	b->charset_from = (char *)res->charset_from;
	if (res->counted) {
		b->counted = 1;
		b->words = res->words;
		b->distinct = res->distinct;
		b->top = top_text(res);
	}
}

void jg_mf_book_to_result(const struct jg_mf_book *b, const char *dir, struct jg_result *res,
                          char *path, size_t path_len, struct jg_word_count top[JG_MF_TOP_MAX],
                          char *words, size_t words_len)
{
	memset(res, 0, sizeof *res);
	res->url = b->url;
	res->final_url = b->final_url ? b->final_url : b->url;
	res->index = b->index;
	res->err = b->ok ? JG_OK : b->err;
	res->error = b->ok ? "" : (b->error ? b->error : "");
	res->http_code = b->http;
	res->attempts = b->attempts;
	res->redirects = b->redirects;
	if (!b->ok)
		return;
	snprintf(path, path_len, "%s/%s", dir, b->file);
	res->file = path;
	res->bytes = b->bytes;
	res->sha256 = b->sha256;
	res->content_type = b->content_type;
	if (b->counted)
		jg_mf_book_counts(b, res, top, words, words_len);
}

const char *jg_mf_count_mode(unsigned flags, char *buf, size_t len)
{
	if (flags & JG_COUNT_OFF)
		return "off";
	snprintf(buf, len, "%s%s", (flags & JG_COUNT_WHITESPACE) ? "whitespace" : "words",
	         (flags & JG_COUNT_KEEP_BOILERPLATE) ? "+boilerplate" : "");
	return buf;
}
