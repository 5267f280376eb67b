/* Unit tests of the robots.txt cache in DIR/.juggle/robots. */
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
#include <unistd.h>

#include "robots.h"
#include "robots_cache.h"

struct fixture {
	char dir[64];
	int statefd;
	struct jg_robots_cache c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/jg-robots-cache-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->statefd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->statefd >= 0);
	char why[256];
	assert_int_equal(jg_robots_cache_open(&f->c, f->statefd, f->dir, why, sizeof why), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	jg_robots_cache_close(&f->c);
	close(f->statefd);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const char origin[] = "http://h.test:8080";
#define NOW 1800000000.0

/* Writes `text` as the cache file of `o`. */
static void plant(struct fixture *f, const char *o, const char *text, size_t len)
{
	char name[JG_ROBOTS_CACHE_NAME];
	jg_robots_cache_name(o, name);
	int fd = openat(f->c.dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static int load(struct fixture *f, const char *o, double now, long *status, char **body,
                size_t *len)
{
	return jg_robots_cache_load(&f->c, o, now, status, body, len);
}

static void test_what_is_saved_comes_back_for_a_day(void **state)
{
	struct fixture *f = *state;
	const char body[] = "User-agent: *\nDisallow: /x\n";
	assert_int_equal(jg_robots_cache_save(&f->c, origin, NOW, 200, body, sizeof body - 1), 0);
	long status;
	char *got;
	size_t len;
	assert_int_equal(load(f, origin, NOW + 3600, &status, &got, &len), 1);
	assert_int_equal(status, 200);
	assert_int_equal(len, sizeof body - 1);
	assert_memory_equal(got, body, len);
	free(got);
	assert_int_equal(load(f, origin, NOW + JG_ROBOTS_CACHE_TTL - 1, &status, &got, &len), 1);
	free(got);
	assert_int_equal(load(f, origin, NOW + JG_ROBOTS_CACHE_TTL, &status, &got, &len), 0);
	/* A fetch time ahead of the clock proves nothing. */
	assert_int_equal(load(f, origin, NOW - 3600, &status, &got, &len), 0);
	/* Another origin, even one that shared the name, is not answered. */
	assert_int_equal(load(f, "http://h.test:8081", NOW, &status, &got, &len), 0);
	/* A 4xx: no body. */
	assert_int_equal(jg_robots_cache_save(&f->c, "https://h.test:443", NOW, 404, NULL, 0), 0);
	assert_int_equal(load(f, "https://h.test:443", NOW, &status, &got, &len), 1);
	assert_int_equal(status, 404);
	assert_null(got);
	assert_int_equal(len, 0);
}

static void test_names_are_safe_and_apart(void **state)
{
	char a[JG_ROBOTS_CACHE_NAME], b[JG_ROBOTS_CACHE_NAME];
	jg_robots_cache_name("http://[::1]:80", a);
	assert_null(strpbrk(a, "/[]:"));
	assert_true(a[0] != '.');
	jg_robots_cache_name("http://__1_:80", b);
	assert_string_not_equal(a, b);
	char longo[400];
	snprintf(longo, sizeof longo, "http://%0300d:80", 0);
	jg_robots_cache_name(longo, a);
	assert_true(strlen(a) < JG_ROBOTS_CACHE_NAME);
}

static void test_bad_files_are_no_answer(void **state)
{
	struct fixture *f = *state;
	long status;
	char *got;
	size_t len;
	char good[256];
	int n = snprintf(good, sizeof good,
	                 "juggle-robots 1\norigin %s\nfetched %.0f\nstatus 200\n\nUser-agent: *\n",
	                 origin, NOW);
	plant(f, origin, good, (size_t)n);
	assert_int_equal(load(f, origin, NOW, &status, &got, &len), 1);
	free(got);
	const char *bad[] = {
		"juggle-robots 2\norigin http://h.test:8080\nfetched 1800000000\nstatus 200\n\nx",
		"juggle-robots 1\norigin http://h.test:8080\nfetched 1800000000\nstatus 200\nx",
		"juggle-robots 1\norigin http://h.test:8080\nfetched 18e8\nstatus 200\n\n",
		"juggle-robots 1\norigin http://h.test:8080\nfetched 1800000000\nstatus 503\n\n",
		"juggle-robots 1\norigin http://h.test:8080\nfetched 1800000000\n",
		"juggle-robots 1\norigin http://h.test:8080 \nfetched 1800000000\nstatus 200\n\n",
		"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		plant(f, origin, bad[i], strlen(bad[i]));
		if (load(f, origin, NOW, &status, &got, &len) != 0)
			fail_msg("taken: %s", bad[i]);
	}
	/* Larger than what is ever written. */
	size_t big = JG_ROBOTS_MAX_BYTES + 8192;
	char *huge = malloc(big);
	assert_non_null(huge);
	memcpy(huge, good, (size_t)n);
	memset(huge + n, '#', big - (size_t)n);
	plant(f, origin, huge, big);
	assert_int_equal(load(f, origin, NOW, &status, &got, &len), 0);
	free(huge);
	/* A FIFO or a symlink under the name is not opened for reading. */
	char name[JG_ROBOTS_CACHE_NAME];
	jg_robots_cache_name(origin, name);
	unlinkat(f->c.dirfd, name, 0);
	assert_int_equal(mkfifoat(f->c.dirfd, name, 0644), 0);
	assert_int_equal(load(f, origin, NOW, &status, &got, &len), 0);
	unlinkat(f->c.dirfd, name, 0);
	assert_int_equal(symlinkat("/etc/passwd", f->c.dirfd, name), 0);
	assert_int_equal(load(f, origin, NOW, &status, &got, &len), 0);
	/* Saving replaces the link itself, never writes through it. */
	assert_int_equal(jg_robots_cache_save(&f->c, origin, NOW, 200, "x", 1), 0);
	struct stat sb;
	assert_int_equal(fstatat(f->c.dirfd, name, &sb, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(sb.st_mode));
}

static void test_a_body_is_kept_up_to_the_cap(void **state)
{
	struct fixture *f = *state;
	size_t big = JG_ROBOTS_MAX_BYTES + 1000;
	char *body = malloc(big);
	assert_non_null(body);
	memset(body, 'a', big);
	assert_int_equal(jg_robots_cache_save(&f->c, origin, NOW, 200, body, big), 0);
	long status;
	char *got;
	size_t len;
	assert_int_equal(load(f, origin, NOW, &status, &got, &len), 1);
	assert_int_equal(len, JG_ROBOTS_MAX_BYTES);
	free(got);
	free(body);
}

static void test_open_sweeps_temporary_files_and_refuses_links(void **state)
{
	struct fixture *f = *state;
	int fd = openat(f->c.dirfd, ".x-0123.part", O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(jg_robots_cache_save(&f->c, origin, NOW, 200, "x", 1), 0);
	jg_robots_cache_close(&f->c);
	char why[256];
	assert_int_equal(jg_robots_cache_open(&f->c, f->statefd, f->dir, why, sizeof why), 0);
	DIR *d = fdopendir(dup(f->c.dirfd));
	assert_non_null(d);
	rewinddir(d); /* the duplicate shares the offset the sweep left at the end */
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		assert_true(e->d_name[0] != '.'); /* no temporary left */
		files++;
	}
	closedir(d);
	assert_int_equal(files, 1);
	/* A symlink in place of the directory is refused, named. */
	jg_robots_cache_close(&f->c);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s/robots' && ln -s /tmp '%s/robots'", f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(jg_robots_cache_open(&f->c, f->statefd, f->dir, why, sizeof why), -1);
	assert_non_null(strstr(why, "robots: not a directory (a symlink or a file): refusing"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_what_is_saved_comes_back_for_a_day, setup,
		                                teardown),
		cmocka_unit_test(test_names_are_safe_and_apart),
		cmocka_unit_test_setup_teardown(test_bad_files_are_no_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_body_is_kept_up_to_the_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_sweeps_temporary_files_and_refuses_links,
		                                setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
