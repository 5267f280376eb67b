/*
 * libFuzzer target: arbitrary bytes as DIR/.juggle/manifest, the journal a
 * run leaves in its output directory and that the next run over it (or
 * `juggle merge`) reads back. The file is loaded; every book is looked up
 * by its list line and its figures taken as a report takes them; then
 * every record is written back the way a run compacts its journal
 * (header, input errors, sealed books, the seal, the other books) and the
 * result loaded again. jg_mf_find must give each book back, the figures
 * must stay inside their buffers, the rewritten journal must load whole
 * (no torn or bad line), and hold the same header, books (field for
 * field, as the writer records them, sealed or not), input errors and
 * seal. Nothing may read out of bounds or leak.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];         /* DIR, created once per process */
static char mf_dir[96];      /* DIR/.juggle */
static char mf_path[128];    /* DIR/.juggle/manifest */
static int jfd = -1;         /* DIR/.juggle, open for the process */

static void remove_dir(void)
{
	char part[128];
	snprintf(part, sizeof part, "%s/manifest.part", mf_dir);
	unlink(part);
	unlink(mf_path);
	rmdir(mf_dir);
	rmdir(dir);
}

static void make_dir(void)
{
	if (dir[0])
		return;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof dir, "%s/jg-fuzz-manifest-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror(dir);
		abort();
	}
	snprintf(mf_dir, sizeof mf_dir, "%s/%s", dir, JG_MF_DIR);
	snprintf(mf_path, sizeof mf_path, "%s/manifest", mf_dir);
	char why[600];
	jfd = jg_mf_open_dir(dir, 1, why, sizeof why);
	if (jfd < 0) {
		fprintf(stderr, "fuzz_manifest: %s\n", why);
		abort();
	}
	atexit(remove_dir);
}

static void put_file(const uint8_t *data, size_t size)
{
	int fd = open(mf_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd) < 0) {
		perror(mf_path);
		abort();
	}
}

/* Both NULL, or the same string. */
static int same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_manifest: invariant violated: %s\n", what);
		abort();
	}
}

/* The figures a report takes from a record stay inside their buffers. */
static void check_counts(const struct jg_mf_book *b)
{
	static struct jg_word_count top[JG_MF_TOP_MAX];
	static char words[JG_MF_TOP_MAX * 1025];
	struct jg_result res;
	memset(&res, 0, sizeof res);
	jg_mf_book_counts(b, &res, top, words, sizeof words);
	check(res.counted && res.words == b->words && res.distinct == b->distinct, "book counts");
	check(res.n_top <= JG_MF_TOP_MAX && res.top == top, "top words");
	check(res.charset == b->charset && res.charset_from == b->charset_from, "charset");
	for (size_t i = 0; i < res.n_top; i++) {
		const char *w = top[i].word;
		check(w >= words && w < words + sizeof words, "a top word outside its buffer");
		check(memchr(w, '\0', (size_t)(words + sizeof words - w)) != NULL, "top word unterminated");
		check(!b->top || strstr(b->top, w) != NULL, "a top word not in the record");
	}
}

/* What jg_mf_write_book records of `a` came back as `b`. */
static void check_book(const struct jg_mf_book *a, const struct jg_mf_book *b)
{
	check(a->ok == b->ok && a->other == b->other && a->index == b->index, "book kind or index");
	check(same(a->text, b->text) && same(a->url, b->url), "book text or url");
	if (a->ok) {
		check(same(a->file, b->file) && a->bytes == b->bytes && a->mtime_ns == b->mtime_ns,
		      "book file, bytes or mtime");
		check(same(a->sha256, b->sha256) && same(a->etag, b->etag) &&
		          same(a->last_modified, b->last_modified) &&
		          same(a->content_type, b->content_type),
		      "book hash or validators");
		check(same(a->charset, b->charset) && same(a->charset_from, b->charset_from),
		      "book charset");
		check(a->pending == b->pending, "book pending");
	} else {
		check(a->err == b->err && same(a->error, b->error), "failure");
	}
	check(a->http == b->http && a->attempts == b->attempts && a->redirects == b->redirects,
	      "book http, attempts or redirects");
	if (a->redirects)
		check(same(a->final_url, b->final_url), "book final url");
	check(a->counted == b->counted, "book counted");
	if (a->counted)
		check(a->words == b->words && a->distinct == b->distinct && same(a->top, b->top),
		      "book figures");
	check(a->sealed == b->sealed, "book sealed");
}

/* Writes `m` back as a run compacts it: a seal covers what precedes it. */
static void rewrite(const struct jg_manifest *m)
{
	struct jg_mf_writer w;
	char why[600];
	if (jg_mf_begin(&w, jfd, dir, why, sizeof why) < 0) {
		fprintf(stderr, "fuzz_manifest: %s\n", why);
		abort();
	}
	jg_mf_write_header(&w, m);
	for (size_t i = 0; i < m->n_input_errors; i++)
		jg_mf_write_input_error(&w, &m->input_errors[i]);
	if (m->has_seal) {
		for (size_t i = 0; i < m->n_books; i++)
			if (m->books[i].sealed)
				jg_mf_write_book(&w, &m->books[i]);
		jg_mf_write_seal(&w, &m->seal);
	}
	for (size_t i = 0; i < m->n_books; i++)
		if (!m->books[i].sealed)
			jg_mf_write_book(&w, &m->books[i]);
	if (jg_mf_commit(&w, why, sizeof why) < 0) {
		fprintf(stderr, "fuzz_manifest: %s\n", why);
		abort();
	}
	jg_mf_close(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	make_dir();
	put_file(data, size);
	struct jg_manifest m, r;
	char why[600];
	jg_mf_init(&m);
	jg_mf_init(&r);
	if (jg_mf_load(&m, jfd, dir, why, sizeof why) < 0) {
		jg_mf_fini(&m);
		return 0;
	}
	check(m.found, "the manifest was not found");
	for (size_t i = 0; i < m.n_books; i++) {
		const struct jg_mf_book *b = &m.books[i];
		check(b->text && b->url && (!b->ok || b->file), "a book without text, url or file");
		check(jg_mf_find(&m, b->text) == b, "jg_mf_find misses a book");
		check(!b->sealed || (m.has_seal && b->ok && !b->other && !b->pending),
		      "a book sealed by no seal");
		check_counts(b);
	}

	rewrite(&m);
	check(jg_mf_load(&r, jfd, dir, why, sizeof why) == 0 && r.found, "the rewritten manifest");
	int has_header = m.juggle_version != NULL;
	if (has_header) {
		check(!r.torn_line && !r.bad_line, "the rewritten manifest does not load whole");
		check(same(m.juggle_version, r.juggle_version) && same(m.count_mode, r.count_mode) &&
		          m.list_hash == r.list_hash && m.list_urls == r.list_urls &&
		          m.list_order == r.list_order && m.shard_k == r.shard_k &&
		          m.shard_n == r.shard_n && m.accepted == r.accepted,
		      "header");
	}
	check(r.n_books == m.n_books, "not the same number of books");
	for (size_t i = 0; i < m.n_books; i++) {
		const struct jg_mf_book *b = jg_mf_find(&r, m.books[i].text);
		check(b != NULL, "a book is missing after the rewrite");
		check_book(&m.books[i], b);
	}
	check(r.n_input_errors == m.n_input_errors, "not the same number of input errors");
	for (size_t i = 0; i < m.n_input_errors; i++) {
		const struct jg_mf_input_error *a = &m.input_errors[i], *b = &r.input_errors[i];
		check(same(a->source, b->source) && same(a->text, b->text) &&
		          same(a->error, b->error) && a->line == b->line,
		      "input error");
	}
	check(r.has_seal == m.has_seal, "seal lost or made up");
	if (m.has_seal)
		check(r.seal.gen == m.seal.gen && r.seal.books == m.seal.books &&
		          r.seal.words == m.seal.words && r.seal.distinct == m.seal.distinct &&
		          r.seal.crc == m.seal.crc,
		      "seal");
	jg_mf_fini(&r);
	jg_mf_fini(&m);
	return 0;
}
