/* Unit tests of the shared body memory: its allocator against a model,
 * and the memory itself as a worker sees it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm.h"

static void test_released_runs_join_back_into_one(void **state)
{
	(void)state;
	struct jg_shm *s = jg_shm_new(1 << 20);
	assert_non_null(s);
	void *a = jg_shm_alloc(s, 100000), *b = jg_shm_alloc(s, 100000), *c = jg_shm_alloc(s, 100000);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(jg_shm_owns(s, a) && jg_shm_owns(s, b) && jg_shm_owns(s, c));
	int on_heap = 0;
	assert_false(jg_shm_owns(s, &on_heap));
	assert_false(jg_shm_owns(NULL, a));
	assert_true(jg_shm_offset(s, b) > jg_shm_offset(s, a));
	/* Freed out of order: the middle one first leaves a hole. */
	jg_shm_release(s, b);
	assert_int_equal(jg_shm_free_runs(s), 2);
	jg_shm_release(s, a);
	assert_int_equal(jg_shm_free_runs(s), 2);
	jg_shm_release(s, c);
	assert_int_equal(jg_shm_free_runs(s), 1);
	assert_int_equal(jg_shm_used(s), 0);
	jg_shm_free(s);
}

static void test_realloc_grows_in_place_or_moves_keeping_bytes(void **state)
{
	(void)state;
	struct jg_shm *s = jg_shm_new(4 << 20);
	assert_non_null(s);
	char *a = jg_shm_alloc(s, 70000);
	memset(a, 'a', 70000);
	char *grown = jg_shm_realloc(s, a, 300000);
	assert_ptr_equal(grown, a); /* the run after it was free */
	char *b = jg_shm_alloc(s, 70000);
	memset(b, 'b', 70000);
	char *moved = jg_shm_realloc(s, a, 600000); /* b is in the way now */
	assert_non_null(moved);
	assert_ptr_not_equal(moved, a);
	for (size_t i = 0; i < 70000; i++)
		assert_int_equal(moved[i], 'a');
	for (size_t i = 0; i < 70000; i++)
		assert_int_equal(b[i], 'b');
	/* No room: NULL, and the body stays where and what it was. */
	assert_null(jg_shm_realloc(s, b, 8 << 20));
	assert_int_equal(b[69999], 'b');
	assert_null(jg_shm_alloc(s, 5 << 20));
	jg_shm_release(s, moved);
	jg_shm_release(s, b);
	assert_int_equal(jg_shm_used(s), 0);
	assert_int_equal(jg_shm_free_runs(s), 1);
	jg_shm_free(s);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/*
 * Random allocations, growths and releases, each allocation filled with
 * its own byte: were a run ever handed out twice, or a move to lose
 * bytes, some allocation's bytes would change.
 */
static void test_no_byte_is_handed_out_twice(void **state)
{
	(void)state;
	enum { SLOTS = 64, STEPS = 4000 };
	struct jg_shm *s = jg_shm_new(32 << 20);
	assert_non_null(s);
	unsigned char *p[SLOTS] = {0};
	size_t len[SLOTS] = {0};
	for (int step = 0; step < STEPS; step++) {
		int i = (int)(next_random() % SLOTS);
		uint32_t op = next_random() % 3;
		size_t n = 1 + next_random() % 400000;
		if (p[i] && op == 0) {
			for (size_t k = 0; k < len[i]; k++)
				assert_int_equal(p[i][k], (unsigned char)i);
			jg_shm_release(s, p[i]);
			p[i] = NULL;
		} else if (p[i] && op == 1 && n > len[i]) {
			unsigned char *q = jg_shm_realloc(s, p[i], n);
			if (q) {
				for (size_t k = 0; k < len[i]; k++)
					assert_int_equal(q[k], (unsigned char)i);
				memset(q, i, n);
				p[i] = q;
				len[i] = n;
			}
		} else if (!p[i]) {
			p[i] = jg_shm_alloc(s, n);
			if (p[i]) {
				memset(p[i], i, n);
				len[i] = n;
			}
		}
	}
	for (int i = 0; i < SLOTS; i++) {
		for (size_t k = 0; p[i] && k < len[i]; k++)
			assert_int_equal(p[i][k], (unsigned char)i);
		jg_shm_release(s, p[i]);
	}
	assert_int_equal(jg_shm_used(s), 0);
	assert_int_equal(jg_shm_free_runs(s), 1);
	jg_shm_free(s);
}

/* What a worker does: maps the descriptor read-only and reads the body
 * where the loop wrote it, with no copy between. */
static void test_a_child_reads_the_body_in_place(void **state)
{
	(void)state;
	struct jg_shm *s = jg_shm_new(8 << 20);
	assert_non_null(s);
	char *body = jg_shm_alloc(s, 200000);
	for (size_t i = 0; i < 200000; i++)
		body[i] = (char)('a' + i % 26);
	uint64_t off = jg_shm_offset(s, body);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct stat st;
		if (fstat(jg_shm_fd(s), &st) < 0)
			_exit(2);
		const char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, jg_shm_fd(s), 0);
		if (m == MAP_FAILED)
			_exit(3);
		for (size_t i = 0; i < 200000; i++)
			if (m[off + i] != (char)('a' + i % 26))
				_exit(4);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	jg_shm_release(s, body);
	jg_shm_free(s);
}

/* Pages freed past the warm part go back to the kernel: the memory's
 * footprint follows what is held, not what once was. */
static void test_freed_pages_past_the_warm_part_are_given_back(void **state)
{
	(void)state;
	struct jg_shm *s = jg_shm_new(128 << 20);
	assert_non_null(s);
	size_t n = 80 << 20;
	char *big = jg_shm_alloc(s, n);
	assert_non_null(big);
	memset(big, 1, n);
	struct stat st;
	assert_int_equal(fstat(jg_shm_fd(s), &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 >= n);
	jg_shm_release(s, big);
	assert_int_equal(fstat(jg_shm_fd(s), &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 <= (uint64_t)(16 << 20) + 4096);
	jg_shm_free(s);
}

static void test_body_free_takes_either_kind(void **state)
{
	(void)state;
	struct jg_shm *s = jg_shm_new(1 << 20);
	assert_non_null(s);
	jg_body_free(s, jg_shm_alloc(s, 70000));
	jg_body_free(s, malloc(100)); /* ASan would see a wrong free */
	jg_body_free(NULL, malloc(100));
	jg_body_free(s, NULL);
	assert_int_equal(jg_shm_used(s), 0);
	jg_shm_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_released_runs_join_back_into_one),
		cmocka_unit_test(test_realloc_grows_in_place_or_moves_keeping_bytes),
		cmocka_unit_test(test_no_byte_is_handed_out_twice),
		cmocka_unit_test(test_a_child_reads_the_body_in_place),
		cmocka_unit_test(test_freed_pages_past_the_warm_part_are_given_back),
		cmocka_unit_test(test_body_free_takes_either_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
