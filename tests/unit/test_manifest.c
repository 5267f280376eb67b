/*
 * Unit tests of the manifest: records survive a round trip whatever bytes
 * their values hold; a torn last line is dropped and a damaged line
 * elsewhere is reported, never believed; seals cover what precedes them;
 * count tables read back what they wrote, and refuse malformed lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "juggle.h"
#include "manifest.h"

static char dir[64];

static int make_dir(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/jg-mf-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int remove_dir(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct jg_mf_book book(const char *text, int ok)
{
	static char url[256];
	snprintf(url, sizeof url, "http://h.test/%s", text);
	struct jg_mf_book b;
	memset(&b, 0, sizeof b);
	b.ok = ok;
	b.text = (char *)text;
	b.url = url;
	b.file = ok ? (char *)text : NULL;
	b.bytes = 1234;
	b.http = ok ? 200 : 404;
	b.attempts = 1;
	b.err = ok ? 0 : JG_EHTTP;
	b.error = ok ? NULL : "HTTP 404";
	return b;
}

static void write_header(struct jg_mf_writer *w)
{
	struct jg_manifest h;
	jg_mf_init(&h);
	h.juggle_version = "test";
	h.list_hash = 0x0123456789abcdefULL;
	h.list_urls = 42;
	h.shard_k = 3;
	h.shard_n = 8;
	h.accepted = 5;
	h.count_mode = "words";
	assert_int_equal(jg_mf_write_header(w, &h), 0);
}

/* DIR/.juggle, made if missing: where the journal lives. */
static int jfd_of(void)
{
	char why[256];
	int fd = jg_mf_open_dir(dir, 1, why, sizeof why);
	assert_true(fd >= 0);
	return fd;
}

static int begin(struct jg_mf_writer *w, char *why, size_t len)
{
	return jg_mf_begin(w, jfd_of(), dir, why, len); /* the test leaks the fd */
}

static int load(struct jg_manifest *m, char *why, size_t len)
{
	int fd = jfd_of();
	int rc = jg_mf_load(m, fd, dir, why, len);
	close(fd);
	return rc;
}

static void path_of(char *out, size_t len)
{
	snprintf(out, len, "%s/%s/manifest", dir, JG_MF_DIR);
}

static void test_round_trip_keeps_every_byte(void **state)
{
	struct jg_mf_writer w;
	char why[256];
	assert_int_equal(begin(&w, why, sizeof why), 0);
	write_header(&w);
	struct jg_mf_book b = book("a", 1);
	b.etag = "\"tab\there\\ and\nnewline\"";
	b.sha256 = "00ff";
	b.mtime_ns = -5;
	b.counted = 1;
	b.words = 10;
	b.distinct = 3;
	b.top = "x:y:4 the:3";
	assert_int_equal(jg_mf_write_book(&w, &b), 0);
	struct jg_mf_book f = book("b", 0);
	assert_int_equal(jg_mf_write_book(&w, &f), 0);
	struct jg_mf_input_error e = {"list.txt", "ftp://x", "scheme", 7};
	assert_int_equal(jg_mf_write_input_error(&w, &e), 0);
	assert_int_equal(jg_mf_commit(&w, why, sizeof why), 0);
	jg_mf_close(&w);

	struct jg_manifest m;
	jg_mf_init(&m);
	assert_int_equal(load(&m, why, sizeof why), 0);
	assert_true(m.found);
	assert_int_equal(m.bad_line, 0);
	assert_int_equal(m.torn_line, 0);
	assert_int_equal(m.list_hash, 0x0123456789abcdefULL);
	assert_int_equal(m.list_urls, 42);
	assert_int_equal(m.shard_k, 3);
	assert_int_equal(m.shard_n, 8);
	assert_int_equal(m.accepted, 5);
	assert_string_equal(m.count_mode, "words");
	assert_int_equal(m.n_books, 2);
	const struct jg_mf_book *a = jg_mf_find(&m, "a");
	assert_non_null(a);
	assert_true(a->ok);
	assert_string_equal(a->etag, b.etag);
	assert_string_equal(a->url, "http://h.test/a");
	assert_int_equal(a->mtime_ns, -5);
	assert_int_equal(a->bytes, 1234);
	assert_true(a->counted);
	assert_int_equal(a->words, 10);
	struct jg_word_count top[JG_MF_TOP_MAX];
	char words[64];
	struct jg_result res;
	memset(&res, 0, sizeof res);
	jg_mf_book_counts(a, &res, top, words, sizeof words);
	assert_int_equal(res.n_top, 2);
	assert_int_equal(res.words, 10);
	assert_string_equal(top[0].word, "x:y"); /* the count follows the last ':' */
	assert_int_equal(top[0].count, 4);
	assert_string_equal(top[1].word, "the");
	const struct jg_mf_book *fb = jg_mf_find(&m, "b");
	assert_non_null(fb);
	assert_false(fb->ok);
	assert_int_equal(fb->err, JG_EHTTP);
	assert_string_equal(fb->error, "HTTP 404");
	assert_null(jg_mf_find(&m, "c"));
	assert_int_equal(m.n_input_errors, 1);
	assert_string_equal(m.input_errors[0].text, "ftp://x");
	assert_int_equal(m.input_errors[0].line, 7);
	jg_mf_fini(&m);
}

/* Writes header + books a..e (and a seal after c). */
static void write_five(void)
{
	struct jg_mf_writer w;
	char why[256];
	assert_int_equal(begin(&w, why, sizeof why), 0);
	write_header(&w);
	const char *names[] = {"a", "b", "c", "d", "e"};
	for (int i = 0; i < 5; i++) {
		struct jg_mf_book b = book(names[i], 1);
		assert_int_equal(jg_mf_write_book(&w, &b), 0);
		if (i == 2) {
			struct jg_mf_seal s = {1, 3, 100, 10, 0xdeadbeef};
			assert_int_equal(jg_mf_write_seal(&w, &s), 0);
		}
	}
	assert_int_equal(jg_mf_commit(&w, why, sizeof why), 0);
	jg_mf_close(&w);
}

static void test_seal_covers_what_precedes_it(void **state)
{
	write_five();
	struct jg_manifest m;
	char why[256];
	jg_mf_init(&m);
	assert_int_equal(load(&m, why, sizeof why), 0);
	assert_true(m.has_seal);
	assert_int_equal(m.seal.gen, 1);
	assert_int_equal(m.seal.crc, 0xdeadbeef);
	assert_true(jg_mf_find(&m, "a")->sealed);
	assert_true(jg_mf_find(&m, "c")->sealed);
	assert_false(jg_mf_find(&m, "d")->sealed);
	assert_false(m.seal_broken);
	/* A sealed book recorded again: the snapshot holds its old counts. */
	struct jg_mf_book again = book("b", 1);
	assert_int_equal(jg_mf_put(&m, &again), 0);
	assert_true(m.seal_broken);
	assert_int_equal(m.n_books, 5); /* replaced, not added */
	jg_mf_fini(&m);
}

static long file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (long)st.st_size;
}

/* Held records: none on disk until the flush, then all of them; a seal
 * goes out at once with those before it; too many go out by themselves. */
static void test_held_records_go_out_together(void **state)
{
	struct jg_mf_writer w;
	char why[256], path[256];
	path_of(path, sizeof path);
	assert_int_equal(begin(&w, why, sizeof why), 0);
	jg_mf_hold(&w);
	write_header(&w);
	assert_int_equal(jg_mf_commit(&w, why, sizeof why), 0); /* writes what it holds */
	long header = file_size(path);
	assert_true(header > 0);
	struct jg_mf_book a = book("a", 1), b = book("b", 0);
	assert_int_equal(jg_mf_write_book(&w, &a), 0);
	assert_int_equal(jg_mf_write_book(&w, &b), 0);
	assert_int_equal(file_size(path), header); /* a kill now loses a and b */
	assert_int_equal(jg_mf_flush(&w), 0);
	long two = file_size(path);
	assert_true(two > header);
	assert_int_equal(jg_mf_flush(&w), 0); /* nothing held: nothing written */
	assert_int_equal(file_size(path), two);
	struct jg_mf_book c = book("c", 1);
	assert_int_equal(jg_mf_write_book(&w, &c), 0);
	struct jg_mf_seal seal = {1, 2, 100, 10, 0xdeadbeef};
	assert_int_equal(jg_mf_write_seal(&w, &seal), 0);
	long sealed = file_size(path);
	assert_true(sealed > two);
	struct jg_manifest m;
	jg_mf_init(&m);
	assert_int_equal(load(&m, why, sizeof why), 0);
	assert_true(m.has_seal);
	assert_true(jg_mf_find(&m, "c")->sealed);
	assert_false(jg_mf_find(&m, "b")->ok);
	jg_mf_fini(&m);
	/* More than JG_MF_HOLD_MAX bytes held: written without a flush. */
	char text[32];
	int n = 0;
	while (file_size(path) == sealed) {
		snprintf(text, sizeof text, "many%d", n++);
		struct jg_mf_book x = book(text, 1);
		assert_int_equal(jg_mf_write_book(&w, &x), 0);
		assert_true(n < JG_MF_HOLD_MAX / 64);
	}
	assert_true(file_size(path) - sealed <= JG_MF_HOLD_MAX);
	jg_mf_close(&w); /* and the rest at the close */
	jg_mf_init(&m);
	assert_int_equal(load(&m, why, sizeof why), 0);
	assert_int_equal(m.torn_line, 0);
	snprintf(text, sizeof text, "many%d", n - 1);
	assert_non_null(jg_mf_find(&m, text));
	jg_mf_fini(&m);
}

/* A kill in the middle of the last write: that record alone is lost. */
static void test_torn_last_line_is_dropped(void **state)
{
	write_five();
	char path[256], why[256];
	path_of(path, sizeof path);
	assert_int_equal(truncate(path, file_size(path) - 7), 0);
	struct jg_manifest m;
	jg_mf_init(&m);
	assert_int_equal(load(&m, why, sizeof why), 0);
	assert_int_equal(m.torn_line, 7);
	assert_int_equal(m.bad_line, 0);
	assert_non_null(jg_mf_find(&m, "d"));
	assert_null(jg_mf_find(&m, "e"));
	jg_mf_fini(&m);
}

/* One changed byte anywhere but the end: the file is not believed. */
static void test_damaged_line_is_detected(void **state)
{
	write_five();
	char path[256], why[256];
	path_of(path, sizeof path);
	FILE *f = fopen(path, "r+");
	assert_non_null(f);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf, f);
	char *line3 = strchr(strchr(buf, '\n') + 1, '\n') + 1;
	char *digit = strstr(line3, "bytes=1234") + 6;
	*digit = '9';
	rewind(f);
	assert_int_equal(fwrite(buf, 1, n, f), n);
	fclose(f);
	struct jg_manifest m;
	jg_mf_init(&m);
	assert_int_equal(load(&m, why, sizeof why), 0);
	assert_int_equal(m.bad_line, 3);
	jg_mf_fini(&m);
}

/* The CRC tells damage, not intent: a header must also make sense. */
static void test_header_out_of_range_is_refused(void **state)
{
	const char *bad[] = {
		"H\tformat=1\tjuggle=t\tlist=1\torder=2\tlist_urls=1\tshard=1000/2\taccepted=1\tcount=words",
		"H\tformat=1\tjuggle=t\tlist=1\torder=2\tlist_urls=1\tshard=0/4000000\taccepted=1\tcount=words",
		"H\tformat=1\tjuggle=t\tlist=1\torder=2\tlist_urls=1\tshard=0/2\taccepted=1",
		"H\tformat=9\tjuggle=t\tlist=1\torder=2\tlist_urls=1\tshard=0/2\taccepted=1\tcount=words",
	};
	char path[256], dirpath[256], why[256];
	snprintf(dirpath, sizeof dirpath, "%s/%s", dir, JG_MF_DIR);
	assert_int_equal(mkdir(dirpath, 0777), 0);
	path_of(path, sizeof path);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		/* A valid CRC, as a hand-made file would have. */
		FILE *f = fopen(path, "w");
		fprintf(f, "%s\t#%08x\nB\tindex=0\ttext=a\turl=u\tfile=a\t#00000000\n", bad[i],
		        (unsigned)crc32(0L, (const Bytef *)bad[i], (uInt)strlen(bad[i])));
		fclose(f);
		struct jg_manifest m;
		jg_mf_init(&m);
		assert_int_equal(load(&m, why, sizeof why), 0);
		assert_int_equal(m.bad_line, 1);
		assert_int_equal(m.n_books, 0);
		jg_mf_fini(&m);
	}
}

static void test_missing_manifest_is_not_an_error(void **state)
{
	struct jg_manifest m;
	char why[256];
	jg_mf_init(&m);
	assert_int_equal(load(&m, why, sizeof why), 0);
	assert_false(m.found);
	jg_mf_fini(&m);
}

/* Failures are retried: the last record of a URL is the one that holds. */
static void test_last_record_wins(void **state)
{
	struct jg_manifest m;
	jg_mf_init(&m);
	struct jg_mf_book f = book("x", 0), b = book("x", 1);
	assert_int_equal(jg_mf_put(&m, &f), 0);
	assert_int_equal(jg_mf_put(&m, &b), 0);
	assert_int_equal(m.n_books, 1);
	assert_true(jg_mf_find(&m, "x")->ok);
	/* Many books: the table grows and still finds each one. */
	char text[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(text, sizeof text, "t%d", i);
		struct jg_mf_book t = book(text, i % 3 != 0);
		assert_int_equal(jg_mf_put(&m, &t), 0);
	}
	assert_int_equal(m.n_books, 5001);
	for (int i = 0; i < 5000; i += 97) {
		snprintf(text, sizeof text, "t%d", i);
		assert_int_equal(jg_mf_find(&m, text)->ok, i % 3 != 0);
	}
	jg_mf_fini(&m);
}

/* Snapshots are read back through the public table API. */
static void test_counts_tsv_round_trip_and_errors(void **state)
{
	char path[128], bad[128], err[JG_ERRBUF_SIZE];
	snprintf(path, sizeof path, "%s/c.tsv", dir);
	snprintf(bad, sizeof bad, "%s/bad.tsv", dir);
	FILE *f = fopen(path, "w");
	fputs("the\t10\nword with\ttab\t3\nz\t1\n", f);
	fclose(f);
	struct jg_counts *c = jg_counts_new();
	assert_int_equal(jg_counts_read_tsv(c, path, err), JG_OK);
	assert_int_equal(jg_counts_total(c), 14);
	assert_int_equal(jg_counts_get(c, "word with\ttab"), 3);
	struct jg_counts *d = jg_counts_new();
	assert_int_equal(jg_counts_read_tsv(d, path, err), JG_OK);
	assert_int_equal(jg_counts_merge(d, c), JG_OK);
	assert_int_equal(jg_counts_get(d, "the"), 20);
	assert_int_equal(jg_counts_distinct(d), 3);
	char out[128];
	snprintf(out, sizeof out, "%s/out.tsv", dir);
	assert_int_equal(jg_counts_write_tsv(d, out), JG_OK);
	struct jg_counts *e = jg_counts_new();
	assert_int_equal(jg_counts_read_tsv(e, out, err), JG_OK);
	assert_int_equal(jg_counts_total(e), 28);

	f = fopen(bad, "w");
	fputs("ok\t1\nnocount\t\n", f);
	fclose(f);
	assert_int_equal(jg_counts_read_tsv(e, bad, err), JG_EIO);
	assert_non_null(strstr(err, "bad.tsv:2:"));
	f = fopen(bad, "w");
	fputs("ok\t1\ncut\t4", f); /* no final newline: a torn write */
	fclose(f);
	assert_int_equal(jg_counts_read_tsv(e, bad, err), JG_EIO);
	assert_non_null(strstr(err, ":2: the last line is cut short"));
	jg_counts_free(c);
	jg_counts_free(d);
	jg_counts_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_keeps_every_byte, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_seal_covers_what_precedes_it, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_torn_last_line_is_dropped, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_held_records_go_out_together, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_damaged_line_is_detected, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_header_out_of_range_is_refused, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_missing_manifest_is_not_an_error, make_dir, remove_dir),
		cmocka_unit_test(test_last_record_wins),
		cmocka_unit_test_setup_teardown(test_counts_tsv_round_trip_and_errors, make_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
