/* Unit tests of the frame codec: round trips, partial input, garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "proto.h"

static void test_round_trip(void **state)
{
	struct jg_writer w;
	jg_writer_init(&w);
	jg_writer_begin_frame(&w);
	jg_put_u16(&w, 0xBEEF);
	jg_put_u32(&w, 0xDEADBEEF);
	jg_put_u64(&w, 0x0102030405060708ULL);
	jg_put_bytes(&w, "hello", 5);
	jg_writer_seal(&w, JG_FRAME_RESULT, 42, 7);
	struct jg_frame_header h;
	assert_int_equal(jg_frame_decode_header(w.buf, w.len, &h), 1);
	assert_int_equal(h.type, JG_FRAME_RESULT);
	assert_int_equal(h.id, 42);
	assert_int_equal(h.flags, 7);
	assert_int_equal(h.length, 2 + 4 + 8 + 5);
	struct jg_cursor c;
	jg_cursor_init(&c, w.buf + JG_FRAME_HEADER, h.length);
	assert_int_equal(jg_get_u16(&c), 0xBEEF);
	assert_int_equal(jg_get_u32(&c), 0xDEADBEEF);
	assert_true(jg_get_u64(&c) == 0x0102030405060708ULL);
	assert_memory_equal(jg_get_bytes(&c, 5), "hello", 5);
	assert_false(c.bad);
	assert_int_equal(c.left, 0);
	jg_writer_fini(&w);
}

static void test_partial_header_needs_more(void **state)
{
	uint8_t buf[JG_FRAME_HEADER];
	struct jg_frame_header h = {JG_FRAME_BOOK, 1, 100, 0}, out;
	jg_frame_encode_header(buf, &h);
	for (size_t n = 0; n < JG_FRAME_HEADER; n++)
		assert_int_equal(jg_frame_decode_header(buf, n, &out), 0);
	assert_int_equal(jg_frame_decode_header(buf, sizeof buf, &out), 1);
}

static void test_garbage_is_rejected(void **state)
{
	uint8_t buf[JG_FRAME_HEADER];
	struct jg_frame_header h = {JG_FRAME_BOOK, 1, 100, 0}, out;
	jg_frame_encode_header(buf, &h);
	uint8_t bad[JG_FRAME_HEADER];
	memcpy(bad, buf, sizeof bad);
	bad[0] = 'X'; /* magic */
	assert_int_equal(jg_frame_decode_header(bad, sizeof bad, &out), -1);
	memcpy(bad, buf, sizeof bad);
	bad[2] = 9; /* version */
	assert_int_equal(jg_frame_decode_header(bad, sizeof bad, &out), -1);
	memcpy(bad, buf, sizeof bad);
	bad[3] = 99; /* type */
	assert_int_equal(jg_frame_decode_header(bad, sizeof bad, &out), -1);
	h.length = JG_FRAME_MAX + 1u; /* a length no frame may have */
	jg_frame_encode_header(bad, &h);
	assert_int_equal(jg_frame_decode_header(bad, sizeof bad, &out), -1);
}

static void test_cursor_never_reads_past_the_end(void **state)
{
	const uint8_t three[3] = {1, 2, 3};
	struct jg_cursor c;
	jg_cursor_init(&c, three, sizeof three);
	assert_int_equal(jg_get_u16(&c), 0x0102);
	assert_int_equal(jg_get_u32(&c), 0);
	assert_true(c.bad);
	assert_null(jg_get_bytes(&c, 1)); /* stays bad */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_partial_header_needs_more),
		cmocka_unit_test(test_garbage_is_rejected),
		cmocka_unit_test(test_cursor_never_reads_past_the_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
