/* Unit tests of partial bodies on disk (base/partial.c), on real files:
 * the sidecar's text, taking, keeping and dropping partials, and what
 * must never be written through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idxset.h"
#include "partial.h"
#include "store.h"
#include "trash.h"

static const char url[] = "http://books.test/big.txt";
static const char url_s[] = "http://books.test/s.txt";
static const char url_w[] = "http://books.test/w.txt";
static const char url_t[] = "http://books.test/t.txt";
static const char url_a[] = "http://books.test/a.txt";

static void test_meta_round_trip(void **state)
{
	char buf[JG_PARTIAL_META_MAX + 1];
	struct jg_partial_meta m = {url, JG_VALIDATOR_ETAG, "\"abc-1\"", 20971520}, back;
	int n = jg_partial_meta_format(&m, buf, sizeof buf);
	assert_true(n > 0);
	assert_string_equal(buf, "juggle-partial 1\nurl http://books.test/big.txt\n"
	                         "etag \"abc-1\"\nlength 20971520\n");
	assert_int_equal(jg_partial_meta_parse(buf, (size_t)n, &back), 0);
	assert_string_equal(back.url, url);
	assert_int_equal(back.kind, JG_VALIDATOR_ETAG);
	assert_string_equal(back.validator, "\"abc-1\"");
	assert_int_equal(back.length, 20971520);
	struct jg_partial_meta d = {url, JG_VALIDATOR_DATE, "Sat, 01 Jan 2022 00:00:00 GMT", 0};
	n = jg_partial_meta_format(&d, buf, sizeof buf);
	assert_int_equal(jg_partial_meta_parse(buf, (size_t)n, &back), 0);
	assert_int_equal(back.kind, JG_VALIDATOR_DATE);
	assert_string_equal(back.validator, "Sat, 01 Jan 2022 00:00:00 GMT");
	assert_int_equal(back.length, 0); /* not known: no line */
}

static void test_meta_refuses_what_it_would_not_write(void **state)
{
	char buf[JG_PARTIAL_META_MAX + 1];
	struct jg_partial_meta m = {url, JG_VALIDATOR_ETAG, "\"a\"\r\nX-Evil: 1", 0}, back;
	assert_int_equal(jg_partial_meta_format(&m, buf, sizeof buf), -1);
	m.validator = "";
	assert_int_equal(jg_partial_meta_format(&m, buf, sizeof buf), -1);
	static const char *bad[] = {
		"juggle-partial 2\nurl u\netag \"a\"\n",             /* another version */
		"juggle-partial 1\nurl u\n",                         /* no validator */
		"juggle-partial 1\netag \"a\"\n",                    /* no URL */
		"juggle-partial 1\nurl u\netag \"a\"\netag \"b\"\n", /* twice */
		"juggle-partial 1\nurl u\netag \"a\"",               /* no last line end */
		"juggle-partial 1\nurl u\netag \"a\"\nlength 0\n",   /* a length of 0 */
		"juggle-partial 1\nurl u\netag \"a\"\nlength 012\n", /* leading zero */
		"juggle-partial 1\nurl u\netag \"a\"\nlength 99999999999999999999\n", /* 2^64 < */
		"juggle-partial 1\nurl u\netag \"a\"\nsize 5\n",     /* unknown key */
		"juggle-partial 1\nurl u\netag \"a\x01\"\n",         /* a control byte */
		"juggle-partial 1\nurl u\n\netag \"a\"\n",           /* an empty line */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(buf, sizeof buf, "%s", bad[i]);
		assert_int_equal(jg_partial_meta_parse(buf, strlen(bad[i]), &back), -1);
	}
	/* A NUL inside is no sidecar either. */
	memcpy(buf, "juggle-partial 1\nurl u\0x\netag \"a\"\n", 34);
	assert_int_equal(jg_partial_meta_parse(buf, 34, &back), -1);
}

struct fixture {
	char dir[64];
	char path[512];
	struct ev_loop *loop;
	struct jg_trash trash;
	struct jg_store st;
	struct jg_partials parts;
};

static struct fixture *open_fixture(void)
{
	struct fixture *f = calloc(1, sizeof *f);
	char why[256];
	snprintf(f->dir, sizeof f->dir, "/tmp/jg-test-partial-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->loop = ev_loop_new(EVFLAG_AUTO);
	jg_trash_init(&f->trash, f->loop);
	assert_int_equal(jg_store_open(&f->st, f->dir, 7, why, sizeof why), 0);
	assert_int_equal(jg_store_lock(&f->st, why, sizeof why), 0);
	f->st.trash = &f->trash;
	assert_int_equal(jg_partials_open(&f->parts, &f->st, 1, why, sizeof why), 0);
	return f;
}

static const char *path_of(struct fixture *f, const char *rel)
{
	snprintf(f->path, sizeof f->path, "%s/%s", f->dir, rel);
	return f->path;
}

/* DIR/.juggle/partial/KEY of the book of `u` (NULL: none), or with
 * `meta` its sidecar .KEY.resume. */
static const char *partial_of(struct fixture *f, const char *u, int meta)
{
	char key[32];
	snprintf(key, sizeof key, "%016" PRIx64, jg_hash_str(u, strlen(u)));
	snprintf(f->path, sizeof f->path, "%s/.juggle/partial/%s%s%s", f->dir, meta ? "." : "", key,
	         meta ? ".resume" : "");
	return access(f->path, F_OK) == 0 || errno == ELOOP ? f->path : NULL;
}

static void close_fixture(struct fixture *f)
{
	jg_partials_close(&f->parts);
	jg_store_close(&f->st);
	jg_trash_fini(&f->trash);
	ev_loop_destroy(f->loop);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
}

/* A body of `n` bytes being written to a temporary file, kept as the
 * partial of the book of `u`. */
static void keep_body(struct fixture *f, struct jg_store_temp *tmp, const char *u, size_t n)
{
	char why[256];
	assert_int_equal(jg_store_begin(&f->st, tmp, why, sizeof why), 0);
	char *bytes = malloc(n);
	memset(bytes, 'x', n);
	assert_int_equal(jg_write_all(tmp->fd, bytes, n), 0);
	free(bytes);
	struct jg_partial_meta m = {u, JG_VALIDATOR_ETAG, "\"v1\"", 3 * n};
	/* A partial is a second name: a file without one gets one first, as
	 * fetch.c gives it. */
	assert_int_equal(jg_store_name(&f->st, tmp), 0);
	assert_int_equal(jg_partial_link(&f->parts, f->st.dirfd, tmp->name, &m), 0);
}

static off_t size_of(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static void test_a_kept_body_outlives_its_temporary_file_and_is_taken_again(void **state)
{
	struct fixture *f = open_fixture();
	assert_int_equal(access(path_of(f, ".juggle/partial"), F_OK), -1); /* made when needed */
	struct jg_store_temp tmp;
	keep_body(f, &tmp, url, 5000);
	/* Written on after it was kept: the partial has those bytes too. */
	assert_int_equal(jg_write_all(tmp.fd, "yyyy", 4), 0);
	jg_store_abort(&f->st, &tmp); /* the attempt failed: its file goes */
	assert_non_null(partial_of(f, url, 0));
	assert_int_equal(size_of(partial_of(f, url, 0)), 5004);
	assert_non_null(partial_of(f, url, 1));
	struct jg_partial_found have;
	struct jg_store_temp again;
	assert_int_equal(jg_partial_take(&f->parts, &f->st, url, &again, &have), 1);
	assert_int_equal(have.bytes, 5004);
	assert_int_equal(have.kind, JG_VALIDATOR_ETAG);
	assert_string_equal(have.validator, "\"v1\"");
	assert_int_equal(have.length, 15000);
	/* Written at its end, through a temporary name of the store. */
	assert_int_equal(lseek(again.fd, 0, SEEK_CUR), 5004);
	assert_int_equal(jg_write_all(again.fd, "z", 1), 0);
	char why[256];
	assert_int_equal(jg_store_commit(&f->st, &again, "big.txt", why, sizeof why), 0);
	jg_partial_drop(&f->parts, url);
	assert_int_equal(size_of(path_of(f, "big.txt")), 5005);
	assert_null(partial_of(f, url, 0));
	assert_null(partial_of(f, url, 1));
	close_fixture(f);
}

static void test_a_partial_is_the_urls_not_the_names(void **state)
{
	struct fixture *f = open_fixture();
	struct jg_store_temp tmp;
	keep_body(f, &tmp, url, 3000);
	jg_store_abort(&f->st, &tmp);
	struct jg_partial_found have;
	struct jg_store_temp again;
	/* Another list gave the name to another URL: not its partial, and
	 * the first URL's stays for it, under whatever name it gets. */
	assert_int_equal(jg_partial_take(&f->parts, &f->st, "http://other.test/big.txt", &again,
	                                 &have), 0);
	assert_int_equal(again.fd, -1);
	assert_non_null(partial_of(f, url, 0));
	assert_int_equal(jg_partial_take(&f->parts, &f->st, url, &again, &have), 1);
	assert_int_equal(have.bytes, 3000);
	jg_store_abort(&f->st, &again);
	/* A sidecar that names another URL is not taken, and goes. */
	const char *meta = partial_of(f, url, 1);
	assert_non_null(meta);
	FILE *fp = fopen(meta, "w");
	fprintf(fp, "juggle-partial 1\nurl http://other.test/big.txt\netag \"v1\"\n");
	fclose(fp);
	assert_int_equal(jg_partial_take(&f->parts, &f->st, url, &again, &have), 0);
	assert_null(partial_of(f, url, 0));
	assert_null(partial_of(f, url, 1));
	close_fixture(f);
}

static void test_a_partial_with_another_name_or_a_symlink_is_refused(void **state)
{
	struct fixture *f = open_fixture();
	struct jg_store_temp tmp;
	/* A kill between the book's commit and the partial's drop: the
	 * partial is a second name of the saved book, which must not grow. */
	keep_body(f, &tmp, url, 3000);
	char why[256];
	assert_int_equal(jg_store_commit(&f->st, &tmp, "big.txt", why, sizeof why), 0);
	struct jg_partial_found have;
	struct jg_store_temp again;
	assert_int_equal(jg_partial_take(&f->parts, &f->st, url, &again, &have), 0);
	assert_int_equal(size_of(path_of(f, "big.txt")), 3000);
	assert_null(partial_of(f, url, 0));
	/* A symlink with a sidecar that names the URL. */
	keep_body(f, &tmp, url_s, 3000);
	jg_store_abort(&f->st, &tmp);
	char target[512], link[512];
	snprintf(target, sizeof target, "%s", path_of(f, "big.txt"));
	assert_non_null(partial_of(f, url_s, 0));
	snprintf(link, sizeof link, "%s", partial_of(f, url_s, 0));
	unlink(link);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(jg_partial_take(&f->parts, &f->st, url_s, &again, &have), 0);
	assert_int_equal(size_of(path_of(f, "big.txt")), 3000);
	close_fixture(f);
}

static void test_a_complete_or_empty_partial_is_not_continued(void **state)
{
	struct fixture *f = open_fixture();
	struct jg_store_temp tmp;
	char why[256];
	assert_int_equal(jg_store_begin(&f->st, &tmp, why, sizeof why), 0);
	assert_int_equal(jg_write_all(tmp.fd, "abc", 3), 0);
	struct jg_partial_meta m = {url_w, JG_VALIDATOR_ETAG, "\"v\"", 3}; /* all there */
	assert_int_equal(jg_store_name(&f->st, &tmp), 0);
	assert_int_equal(jg_partial_link(&f->parts, f->st.dirfd, tmp.name, &m), 0);
	jg_store_abort(&f->st, &tmp);
	struct jg_partial_found have;
	struct jg_store_temp again;
	assert_int_equal(jg_partial_take(&f->parts, &f->st, url_w, &again, &have), 0);
	assert_null(partial_of(f, url_w, 0));
	close_fixture(f);
}

static void test_the_trash_never_shrinks_a_file_that_has_a_name(void **state)
{
	struct fixture *f = open_fixture();
	struct jg_store_temp tmp;
	char why[256];
	assert_int_equal(jg_store_begin(&f->st, &tmp, why, sizeof why), 0);
	assert_int_equal(ftruncate(tmp.fd, (off_t)JG_TRASH_STEP * 3), 0); /* big: the trash steps */
	struct jg_partial_meta m = {url_t, JG_VALIDATOR_ETAG, "\"v\"", 0};
	assert_int_equal(jg_store_name(&f->st, &tmp), 0);
	assert_int_equal(jg_partial_link(&f->parts, f->st.dirfd, tmp.name, &m), 0);
	jg_store_abort(&f->st, &tmp);
	ev_run(f->loop, EVRUN_NOWAIT);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(size_of(partial_of(f, url_t, 0)), (off_t)JG_TRASH_STEP * 3);
	close_fixture(f);
}

static void test_leftover_sidecar_temporaries_are_swept(void **state)
{
	struct fixture *f = open_fixture();
	struct jg_store_temp tmp;
	keep_body(f, &tmp, url_a, 100);
	jg_store_abort(&f->st, &tmp);
	int fd = open(path_of(f, ".juggle/partial/.a.txt.resume.tmp"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	jg_partials_close(&f->parts);
	char why[256];
	assert_int_equal(jg_partials_open(&f->parts, &f->st, 1, why, sizeof why), 0);
	assert_int_equal(access(path_of(f, ".juggle/partial/.a.txt.resume.tmp"), F_OK), -1);
	assert_int_equal(size_of(partial_of(f, url_a, 0)), 100); /* partials stay */
	close_fixture(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_round_trip),
		cmocka_unit_test(test_meta_refuses_what_it_would_not_write),
		cmocka_unit_test(test_a_kept_body_outlives_its_temporary_file_and_is_taken_again),
		cmocka_unit_test(test_a_partial_is_the_urls_not_the_names),
		cmocka_unit_test(test_a_partial_with_another_name_or_a_symlink_is_refused),
		cmocka_unit_test(test_a_complete_or_empty_partial_is_not_continued),
		cmocka_unit_test(test_the_trash_never_shrinks_a_file_that_has_a_name),
		cmocka_unit_test(test_leftover_sidecar_temporaries_are_swept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
