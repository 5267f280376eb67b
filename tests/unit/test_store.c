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
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"

/*
 * The filesystem as the test wants it: openat() and linkat() are the
 * test's own (the executable's symbols come before libc's), and may
 * refuse O_TMPFILE as NFS or vfat do, or AT_EMPTY_PATH as a kernel before
 * 6.10 does without CAP_DAC_READ_SEARCH. They count what they are asked.
 */
static int refuse_tmpfile, refuse_empty_path;
static int tmpfile_opens, links;

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		tmpfile_opens++;
		if (refuse_tmpfile) {
			errno = EOPNOTSUPP;
			return -1;
		}
	}
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	links++;
	if ((flags & AT_EMPTY_PATH) && refuse_empty_path) {
		errno = ENOENT;
		return -1;
	}
	return (int)syscall(SYS_linkat, olddirfd, oldpath, newdirfd, newpath, flags);
}

static void reset_fs(void)
{
	refuse_tmpfile = refuse_empty_path = 0;
	tmpfile_opens = links = 0;
}

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


/* The names in `dir` but "." and "..", sorted, joined by spaces. */
static char *listing(const char *dir)
{
	static char out[4096];
	char *names[64];
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)) && n < 64)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[n++] = strdup(e->d_name);
	closedir(d);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(names[j], names[i]) < 0) {
				char *t = names[i];
				names[i] = names[j];
				names[j] = t;
			}
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		strcat(out, i ? " " : "");
		strcat(out, names[i]);
		free(names[i]);
	}
	return out;
}

static void assert_file_is(const char *dir, const char *name, const char *text)
{
	char path[400], got[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	assert_true(fd >= 0);
	ssize_t n = read(fd, got, sizeof got);
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(text));
	assert_memory_equal(got, text, strlen(text));
}

/* One book through begin, write, commit: nothing under any name in the
 * directory until the commit when it has no name. */
static void save_one(struct jg_store *st, const char *dir, const char *name, const char *text,
                     const char *before)
{
	struct jg_store_temp tmp;
	char why[256];
	assert_int_equal(jg_store_begin(st, &tmp, why, sizeof why), 0);
	assert_int_equal(jg_write_all(tmp.fd, text, strlen(text)), 0);
	if (!tmp.name[0])
		assert_string_equal(listing(dir), before);
	assert_int_equal(jg_store_commit(st, &tmp, name, why, sizeof why), 0);
	assert_int_equal(tmp.fd, -1);
}

static void test_the_first_file_learns_how_temporaries_are_made(void **state)
{
	reset_fs();
	char *dir = make_dir();
	struct jg_store st;
	char why[256];
	assert_int_equal(jg_store_open(&st, dir, 7, why, sizeof why), 0);
	assert_int_equal(st.temps, JG_TEMPS_UNKNOWN);
	save_one(&st, dir, "a.txt", "first", "");
	/* /tmp has O_TMPFILE (tmpfs, ext4); AT_EMPTY_PATH needs Linux 6.10 or
	 * CAP_DAC_READ_SEARCH, else /proc it is. */
	assert_true(st.temps == JG_TEMPS_FLINK || st.temps == JG_TEMPS_PROC);
	assert_string_equal(listing(dir), "a.txt");
	int opens = tmpfile_opens, linked = links;
	save_one(&st, dir, "b.txt", "second", "a.txt");
	/* No name at all until the book's: one open, one link. */
	assert_int_equal(tmpfile_opens - opens, 1);
	assert_int_equal(links - linked, 1);
	assert_string_equal(listing(dir), "a.txt b.txt");
	assert_file_is(dir, "b.txt", "second");
	jg_store_close(&st);
	free(dir);
}

static void test_without_o_tmpfile_files_are_named_then_renamed(void **state)
{
	reset_fs();
	refuse_tmpfile = 1; /* NFS, vfat: EOPNOTSUPP */
	char *dir = make_dir();
	struct jg_store st;
	char why[256];
	assert_int_equal(jg_store_open(&st, dir, 7, why, sizeof why), 0);
	struct jg_store_temp tmp;
	assert_int_equal(jg_store_begin(&st, &tmp, why, sizeof why), 0);
	assert_int_equal(st.temps, JG_TEMPS_NAMED);
	assert_true(strncmp(tmp.name, ".jg-", 4) == 0);
	assert_string_equal(listing(dir), tmp.name); /* a name, never the book's */
	assert_int_equal(jg_write_all(tmp.fd, "named", 5), 0);
	assert_int_equal(jg_store_commit(&st, &tmp, "a.txt", why, sizeof why), 0);
	assert_string_equal(listing(dir), "a.txt");
	int opens = tmpfile_opens;
	save_one(&st, dir, "b.txt", "again", "");
	assert_int_equal(tmpfile_opens, opens); /* learnt once: not asked again */
	assert_string_equal(listing(dir), "a.txt b.txt");
	jg_store_close(&st);
	free(dir);
}

static void test_without_at_empty_path_files_are_linked_through_proc(void **state)
{
	reset_fs();
	refuse_empty_path = 1;
	char *dir = make_dir();
	struct jg_store st;
	char why[256];
	assert_int_equal(jg_store_open(&st, dir, 7, why, sizeof why), 0);
	save_one(&st, dir, "a.txt", "first", "");
	assert_int_equal(st.temps, JG_TEMPS_PROC);
	save_one(&st, dir, "b.txt", "second", "a.txt");
	assert_string_equal(listing(dir), "a.txt b.txt");
	assert_file_is(dir, "b.txt", "second");
	jg_store_close(&st);
	free(dir);
}

/* Every way: a taken name (an earlier run's book, a planted symlink) is
 * replaced in one step, never written through; an aborted file leaves
 * nothing; a file given a name on the way commits from it. */
static void test_each_way_replaces_a_taken_name_atomically(void **state)
{
	const int ways[] = {JG_TEMPS_FLINK, JG_TEMPS_PROC, JG_TEMPS_NAMED};
	for (size_t i = 0; i < sizeof ways / sizeof *ways; i++) {
		reset_fs();
		char *dir = make_dir();
		char victim[400], link[400];
		snprintf(victim, sizeof victim, "%s.victim", dir);
		int vfd = open(victim, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		assert_int_equal(write(vfd, "precious", 8), 8);
		close(vfd);
		struct jg_store st;
		char why[256];
		assert_int_equal(jg_store_open(&st, dir, 7, why, sizeof why), 0);
		st.temps = ways[i];
		save_one(&st, dir, "a.txt", "old", "");
		save_one(&st, dir, "a.txt", "new", "a.txt");
		assert_file_is(dir, "a.txt", "new");
		snprintf(link, sizeof link, "%s/b.txt", dir);
		assert_int_equal(symlink(victim, link), 0);
		save_one(&st, dir, "b.txt", "book", "a.txt b.txt");
		assert_file_is(dir, "b.txt", "book"); /* the link itself replaced */
		vfd = open(victim, O_RDONLY);
		char got[16] = "";
		assert_int_equal(read(vfd, got, sizeof got), 8);
		close(vfd);
		assert_memory_equal(got, "precious", 8);
		/* Aborted: nothing left under any name. */
		struct jg_store_temp tmp;
		assert_int_equal(jg_store_begin(&st, &tmp, why, sizeof why), 0);
		assert_int_equal(jg_write_all(tmp.fd, "half", 4), 0);
		jg_store_abort(&st, &tmp);
		assert_string_equal(listing(dir), "a.txt b.txt");
		/* Named on the way (to be kept as a partial): committed from it. */
		assert_int_equal(jg_store_begin(&st, &tmp, why, sizeof why), 0);
		assert_int_equal(jg_write_all(tmp.fd, "kept", 4), 0);
		assert_int_equal(jg_store_name(&st, &tmp), 0);
		char expect[128];
		snprintf(expect, sizeof expect, "%s a.txt b.txt", tmp.name);
		assert_string_equal(listing(dir), expect);
		assert_int_equal(jg_store_commit(&st, &tmp, "c.txt", why, sizeof why), 0);
		assert_string_equal(listing(dir), "a.txt b.txt c.txt");
		assert_file_is(dir, "c.txt", "kept");
		/* A commit that fails leaves neither the book nor a temporary. */
		assert_int_equal(jg_store_begin(&st, &tmp, why, sizeof why), 0);
		assert_int_equal(jg_store_commit(&st, &tmp, "no/such/dir", why, sizeof why), -1);
		assert_non_null(strstr(why, "no/such/dir"));
		assert_int_equal(tmp.fd, -1);
		assert_string_equal(listing(dir), "a.txt b.txt c.txt");
		/* Named before any data (what the threads engine does to a file a
		 * thread may link elsewhere). */
		assert_int_equal(jg_store_begin(&st, &tmp, why, sizeof why), 0);
		assert_int_equal(jg_store_name(&st, &tmp), 0);
		assert_true(strncmp(tmp.name, ".jg-", 4) == 0);
		assert_int_equal(jg_store_commit(&st, &tmp, "d.txt", why, sizeof why), 0);
		assert_string_equal(listing(dir), "a.txt b.txt c.txt d.txt");
		jg_store_close(&st);
		unlink(victim);
		char cmd[400];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
		free(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_sanitize_caps_length_on_utf8_boundary),
		cmocka_unit_test(test_save_is_atomic_and_exact),
		cmocka_unit_test(test_the_lock_is_the_liveness_test),
		cmocka_unit_test(test_a_planted_lock_symlink_is_refused),
		cmocka_unit_test(test_the_first_file_learns_how_temporaries_are_made),
		cmocka_unit_test(test_without_o_tmpfile_files_are_named_then_renamed),
		cmocka_unit_test(test_without_at_empty_path_files_are_linked_through_proc),
		cmocka_unit_test(test_each_way_replaces_a_taken_name_atomically),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
