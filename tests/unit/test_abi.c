/*
 * The ABI guards of juggle.h, seen as an embedder sees them (this program
 * links the shared library and includes juggle.h alone): the version
 * numbers agree with each other and with the library's; sized structs are
 * filled or read only as far as the caller's struct goes; a refused prior
 * is a success, counted apart (the 0.3 symbol still answers as it did).
 */
#include <juggle.h>

#include <ev.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
	struct ev_loop *loop;
	struct jg_session *s;
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/jg-abi-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->loop = ev_loop_new(EVFLAG_AUTO);
	struct jg_options *o = jg_options_new();
	assert_int_equal(jg_options_set_output_dir(o, f->dir), JG_OK);
	char err[JG_ERRBUF_SIZE];
	assert_int_equal(jg_session_new(&f->s, f->loop, o, err), JG_OK);
	jg_options_free(o);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	jg_session_free(f->s);
	ev_loop_destroy(f->loop);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_version_numbers_agree(void **state)
{
	(void)state;
	char text[32];
	snprintf(text, sizeof text, "%d.%d.%d", JG_VERSION_MAJOR, JG_VERSION_MINOR, JG_VERSION_PATCH);
	assert_string_equal(text, JG_VERSION);
	assert_string_equal(jg_version(), JG_VERSION);
	assert_int_equal(jg_version_number(), JG_VERSION_NUM);
	assert_int_equal(JG_VERSION_NUM >> 16, JG_VERSION_MAJOR);
	assert_int_equal((JG_VERSION_NUM >> 8) & 0xff, JG_VERSION_MINOR);
	assert_int_equal(JG_VERSION_NUM & 0xff, JG_VERSION_PATCH);
}

/* An older program's struct ends earlier: nothing past it is written. */
static void test_stats_fill_only_the_callers_size(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(jg_session_add_url(f->s, "http://127.0.0.1:9/a", NULL), JG_OK);
	unsigned char buf[sizeof(struct jg_stats) + 64];
	memset(buf, 0xab, sizeof buf);
	size_t small = offsetof(struct jg_stats, ok);
	jg_session_stats_sized(f->s, (struct jg_stats *)(void *)buf, small);
	for (size_t i = small; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0xab);
	struct jg_stats st;
	memcpy(&st, buf, small);
	assert_int_equal(st.added, 1);

	/* The macro passes the whole struct; the 0.3 symbol fills 0.3's. */
	memset(buf, 0xab, sizeof buf);
	jg_session_stats(f->s, (struct jg_stats *)(void *)buf);
	for (size_t i = sizeof(struct jg_stats); i < sizeof buf; i++)
		assert_int_equal(buf[i], 0xab);
	memset(buf, 0xab, sizeof buf);
	(jg_session_stats)(f->s, (struct jg_stats *)(void *)buf);
	size_t v03 = offsetof(struct jg_stats, threads) + sizeof(unsigned);
	for (size_t i = v03; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0xab);
	memcpy(&st, buf, sizeof st);
	assert_int_equal(st.added, 1);
}

/* A prior for a file that is not there is refused: queued, JG_OK, counted. */
static void test_refused_prior_is_a_success_counted_apart(void **state)
{
	struct fixture *f = *state;
	struct jg_prior p = {.use = JG_PRIOR_KEEP, .file = "b", .bytes = 10};
	assert_int_equal(jg_session_priors_refused(f->s), 0);
	assert_int_equal(jg_session_add_prior(f->s, "http://127.0.0.1:9/b", &p, NULL), JG_OK);
	assert_int_equal(jg_session_priors_refused(f->s), 1);
	/* The 0.3 entry point answers as 0.3 did. */
	p.file = "c";
	assert_int_equal((jg_session_add_prior)(f->s, "http://127.0.0.1:9/c", &p, NULL),
	                 JG_PRIOR_REFUSED);
	assert_int_equal(jg_session_priors_refused(f->s), 2);
	/* A struct of an older, shorter layout: the fields it lacks read as 0. */
	p.file = "d";
	assert_int_equal(jg_session_add_prior_sized(f->s, "http://127.0.0.1:9/d", &p,
	                                            offsetof(struct jg_prior, content_type) +
	                                                sizeof(const char *),
	                                            NULL),
	                 JG_OK);
	/* Shorter than any juggle ever had: refused as a bad argument. */
	assert_int_equal(jg_session_add_prior_sized(f->s, "http://127.0.0.1:9/e", &p,
	                                            offsetof(struct jg_prior, bytes), NULL),
	                 JG_EINVAL);
	struct jg_stats st;
	jg_session_stats(f->s, &st);
	assert_int_equal(st.added, 3);
}

int main(void)
{
	jg_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_numbers_agree),
		cmocka_unit_test_setup_teardown(test_stats_fill_only_the_callers_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_prior_is_a_success_counted_apart, setup,
		                                teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	jg_global_cleanup();
	return failed;
}
