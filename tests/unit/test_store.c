/* Unit tests of file naming and atomic saving, on real files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"

static void test_sanitize(void **state)
{
	char out[JG_NAME_MAX + 1];
	assert_int_equal(jg_store_sanitize("pg84.txt", 8, out), 8);
	assert_string_equal(out, "pg84.txt");
	jg_store_sanitize("..hidden", 8, out);
	assert_string_equal(out, "hidden");
	jg_store_sanitize("a\x01" "b\\c\x7f", 6, out);
	assert_string_equal(out, "a_b_c_");
	assert_int_equal(jg_store_sanitize("...", 3, out), 0);
	assert_int_equal(jg_store_sanitize("", 0, out), 0);
}

static void test_sanitize_caps_length_on_utf8_boundary(void **state)
{
	char in[600];
	/* "é" is two bytes: an odd cap must not split one. */
	for (size_t i = 0; i < sizeof in; i += 2) {
		in[i] = (char)0xc3;
		in[i + 1] = (char)0xa9;
	}
	char out[JG_NAME_MAX + 1];
	size_t n = jg_store_sanitize(in, sizeof in, out);
	assert_true(n <= JG_NAME_MAX);
	assert_int_equal(n % 2, 0);
	assert_int_equal((unsigned char)out[n - 1], 0xa9);
}

static char *make_dir(void)
{
	char *dir = strdup("/tmp/jg-test-store-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return dir;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
			n++;
	closedir(d);
	return n;
}

static void test_save_is_atomic_and_exact(void **state)
{
	char *dir = make_dir();
	char sub[300];
	snprintf(sub, sizeof sub, "%s/a/b", dir);
	struct jg_store st;
	char why[256];
	assert_int_equal(jg_store_open(&st, sub, 7, why, sizeof why), 0);
	const char body[] = "hello\0world";
	assert_int_equal(jg_store_save(&st, "book.txt", body, sizeof body, why, sizeof why), 0);
	char path[400];
	snprintf(path, sizeof path, "%s/book.txt", sub);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char got[64];
	assert_int_equal(fread(got, 1, sizeof got, f), sizeof body);
	assert_memory_equal(got, body, sizeof body);
	fclose(f);
	assert_int_equal(count_entries(sub), 1); /* no temporary left */
	/* A name that cannot be written: nothing is left behind. */
	assert_int_equal(jg_store_save(&st, "no/such/dir", body, 3, why, sizeof why), -1);
	assert_non_null(strstr(why, "no/such/dir"));
	assert_int_equal(count_entries(sub), 1);
	jg_store_close(&st);
	free(dir);
}

static void test_the_lock_is_the_liveness_test(void **state)
{
	char *dir = make_dir();
	char path[400];
	/* Temporary files of any PID, in any namespace: the lock tells. */
	snprintf(path, sizeof path, "%s/.jg-%ld-0000abcd-1.part", dir, (long)getpid());
	close(open(path, O_CREAT | O_WRONLY, 0644));
	snprintf(path, sizeof path, "%s/.jg-11-0000abcd-2.part", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	snprintf(path, sizeof path, "%s/.jg-notes.txt", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644)); /* not ours */
	struct jg_store st, second;
	char why[256];
	assert_int_equal(jg_store_open(&st, dir, 1, why, sizeof why), 0);
	assert_int_equal(jg_store_sweep(&st), 0); /* not without the lock */
	assert_int_equal(jg_store_lock(&st, why, sizeof why), 0);
	/* Another session over the directory, even in this process, waits. */
	assert_int_equal(jg_store_open(&second, dir, 2, why, sizeof why), 0);
	assert_int_equal(jg_store_lock(&second, why, sizeof why), 1);
	assert_non_null(strstr(why, "another juggle run is using this directory"));
	jg_store_close(&second);
	assert_int_equal(jg_store_sweep(&st), 2);
	assert_int_equal(count_entries(dir), 2); /* the notes and .juggle */
	jg_store_close(&st);
	free(dir);
}

static void test_a_planted_lock_symlink_is_refused(void **state)
{
	char *dir = make_dir();
	char path[400], target[400];
	snprintf(target, sizeof target, "%s/victim", dir);
	snprintf(path, sizeof path, "%s/%s", dir, JG_STORE_STATE);
	assert_int_equal(mkdir(path, 0777), 0);
	snprintf(path, sizeof path, "%s/%s/%s", dir, JG_STORE_STATE, JG_STORE_LOCK);
	assert_int_equal(symlink(target, path), 0);
	struct jg_store st;
	char why[256];
	assert_int_equal(jg_store_open(&st, dir, 1, why, sizeof why), 0);
	assert_int_equal(jg_store_lock(&st, why, sizeof why), -1);
	assert_non_null(strstr(why, "a symlink"));
	assert_int_equal(access(target, F_OK), -1); /* nothing made through it */
	jg_store_close(&st);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_sanitize_caps_length_on_utf8_boundary),
		cmocka_unit_test(test_save_is_atomic_and_exact),
		cmocka_unit_test(test_the_lock_is_the_liveness_test),
		cmocka_unit_test(test_a_planted_lock_symlink_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
