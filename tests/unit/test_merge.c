/*
 * Unit tests of `juggle merge` on shard directories written here with the
 * manifest's own writer: tables add up, books come out in list order,
 * failures count, and mismatched or missing shards are refused or named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "juggle.h"
#include "manifest.h"
#include "merge.h"

static char root[64];
static char tsv[128], json[128];   /* where each merge writes */

static int make_root(void **state)
{
	snprintf(root, sizeof root, "/tmp/jg-merge-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(tsv, sizeof tsv, "%s/m.tsv", root);
	snprintf(json, sizeof json, "%s/m.json", root);
	return 0;
}

static int remove_root(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

struct shard_spec {
	uint32_t k, n;
	uint64_t list_hash;
	const char *table;         /* the sealed snapshot's lines */
	int seal;
	int failed_book;           /* add one F record */
};

/* Writes ROOT/NAME as shard K of N with books at list positions k, k+n;
 * the books' words add up to the table's, as a run's do. */
static void write_shard(const char *name, const struct shard_spec *sp)
{
	char dir[256], why[256];
	snprintf(dir, sizeof dir, "%s/%s", root, name);
	assert_int_equal(mkdir(dir, 0777), 0);
	int jfd = jg_mf_open_dir(dir, 1, why, sizeof why);
	assert_true(jfd >= 0);
	struct jg_counts *c = jg_counts_new();
	char snap[64];
	jg_mf_snapshot_name(1, snap, sizeof snap);
	int tfd = openat(jfd, snap, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(tfd >= 0);
	assert_int_equal(write(tfd, sp->table, strlen(sp->table)), (ssize_t)strlen(sp->table));
	close(tfd);
	assert_int_equal(jg_counts_read_tsv_at(c, jfd, snap, why), JG_OK);
	uint64_t total = jg_counts_total(c);
	struct jg_mf_writer w;
	assert_int_equal(jg_mf_begin(&w, jfd, dir, why, sizeof why), 0);
	struct jg_manifest h;
	jg_mf_init(&h);
	h.juggle_version = "test";
	h.list_hash = sp->list_hash;
	h.list_urls = 6; /* the same list whatever the shard count */
	h.shard_k = sp->k;
	h.shard_n = sp->n;
	h.accepted = 2;
	h.count_mode = "words";
	assert_int_equal(jg_mf_write_header(&w, &h), 0);
	for (uint32_t i = 0; i < 2; i++) {
		char text[32], url[64], file[40];
		uint64_t index = sp->k + (uint64_t)i * sp->n;
		snprintf(text, sizeof text, "b%llu", (unsigned long long)index);
		snprintf(url, sizeof url, "http://h.test/%s", text);
		snprintf(file, sizeof file, "%s.txt", text);
		struct jg_mf_book b;
		memset(&b, 0, sizeof b);
		b.ok = !(sp->failed_book && i == 1);
		b.index = index;
		b.text = text;
		b.url = url;
		b.file = b.ok ? file : NULL;
		b.bytes = 100;
		b.http = b.ok ? 200 : 404;
		b.err = b.ok ? 0 : JG_EHTTP;
		b.error = b.ok ? NULL : "HTTP 404";
		b.counted = b.ok;
		/* The first book has half the words, the second the rest. */
		b.words = i == 0 && !sp->failed_book ? total / 2 : total - (sp->failed_book ? 0 : total / 2);
		b.distinct = b.words ? 1 : 0;
		b.top = "a:2 b:1";
		assert_int_equal(jg_mf_write_book(&w, &b), 0);
	}
	if (sp->seal) {
		struct jg_mf_seal s = {1, 2, jg_counts_total(c), jg_counts_distinct(c), 0};
		assert_int_equal(jg_mf_file_crc(jfd, snap, &s.crc), 0);
		assert_int_equal(jg_mf_write_seal(&w, &s), 0);
	} else {
		unlinkat(jfd, snap, 0);
	}
	jg_counts_free(c);
	assert_int_equal(jg_mf_commit(&w, why, sizeof why), 0);
	jg_mf_close(&w);
	close(jfd);
}

static int merge(int n, ...)
{
	char *argv[16];
	char paths[8][256];
	int argc = 0;
	argv[argc++] = "merge";
	argv[argc++] = "-q";
	argv[argc++] = "--counts";
	argv[argc++] = tsv;
	argv[argc++] = "--json";
	argv[argc++] = json;
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		snprintf(paths[i], sizeof paths[i], "%s/%s", root, va_arg(ap, const char *));
		argv[argc++] = paths[i];
	}
	va_end(ap);
	argv[argc] = NULL;
	return jg_merge_main(argc, argv);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_tables_add_up_and_books_keep_list_order(void **state)
{
	struct shard_spec a = {0, 2, 77, "the\t5\nof\t2\n", 1, 0};
	struct shard_spec b = {1, 2, 77, "the\t1\nzebra\t4\n", 1, 0};
	write_shard("s0", &a);
	write_shard("s1", &b);
	assert_int_equal(merge(2, "s1", "s0"), 0);
	assert_string_equal(slurp(tsv), "the\t6\nzebra\t4\nof\t2\n");
	const char *j = slurp(json);
	const char *b0 = strstr(j, "/b0\""), *b1 = strstr(j, "/b1\""), *b2 = strstr(j, "/b2\""),
	           *b3 = strstr(j, "/b3\"");
	assert_true(b0 && b1 && b2 && b3);
	assert_true(b0 < b1 && b1 < b2 && b2 < b3); /* list order, not shard order */
	assert_non_null(strstr(j, "\"urls\":4,\"ok\":4,\"failed\":0"));
	assert_non_null(strstr(j, "\"counts\":{\"words\":12,\"distinct\":3"));
	assert_non_null(strstr(j, "\"merged_shards\":2"));
}

static void test_failures_make_the_status_one(void **state)
{
	struct shard_spec a = {0, 2, 77, "x\t1\n", 1, 1};
	struct shard_spec b = {1, 2, 77, "y\t1\n", 1, 0};
	write_shard("s0", &a);
	write_shard("s1", &b);
	assert_int_equal(merge(2, "s0", "s1"), 1);
	const char *j = slurp(json);
	assert_non_null(strstr(j, "\"ok\":3,\"failed\":1"));
	assert_non_null(strstr(j, "HTTP 404"));
}

static void test_mismatched_shards_are_refused(void **state)
{
	struct shard_spec a = {0, 2, 77, "x\t1\n", 1, 0};
	struct shard_spec other_list = {1, 2, 78, "x\t1\n", 1, 0};
	struct shard_spec other_n = {1, 3, 77, "x\t1\n", 1, 0};
	write_shard("s0", &a);
	write_shard("list", &other_list);
	write_shard("n", &other_n);
	assert_int_equal(merge(2, "s0", "list"), 2);
	assert_int_equal(merge(2, "s0", "n"), 2);
	assert_int_equal(merge(2, "s0", "s0"), 2);
	assert_int_equal(access(tsv, F_OK), -1); /* refused: nothing written */
}

static void test_missing_and_unsealed_shards_are_named(void **state)
{
	struct shard_spec a = {0, 3, 77, "x\t1\n", 1, 0};
	struct shard_spec unsealed = {2, 3, 77, "x\t1\n", 0, 0};
	write_shard("s0", &a);
	write_shard("s2", &unsealed);
	/* Shard 1 is missing and shard 2's counts are not sealed: status 1,
	 * and what is there is still merged. */
	assert_int_equal(merge(2, "s0", "s2"), 1);
	assert_string_equal(slurp(tsv), "x\t1\n");
	assert_int_equal(merge(1, "s0"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tables_add_up_and_books_keep_list_order, make_root,
		                                remove_root),
		cmocka_unit_test_setup_teardown(test_failures_make_the_status_one, make_root, remove_root),
		cmocka_unit_test_setup_teardown(test_mismatched_shards_are_refused, make_root, remove_root),
		cmocka_unit_test_setup_teardown(test_missing_and_unsealed_shards_are_named, make_root,
		                                remove_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
