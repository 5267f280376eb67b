/*
 * libFuzzer target for the pipe codec, two ways, by the first byte:
 * - even: the rest is the stream a pipe delivers. Headers are decoded,
 *   and each whole frame's payload goes through the decoder the other
 *   side would use. Nothing may read out of bounds.
 * - odd: the rest is cut into the fields of a BOOK, a RESULT and a
 *   TABLE, each encoded by proto.c and decoded again: every field must
 *   come back as it went (the round trip each side relies on).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_frames: round trip broken: %s\n", what);
		abort();
	}
}

/* Takes up to `max` bytes (as many as the next byte says) off the input. */
static const uint8_t *take(const uint8_t **p, size_t *left, size_t max, size_t *n)
{
	size_t want = 0;
	if (*left) {
		want = **p;
		(*p)++, (*left)--;
	}
	want = want * 8 % (max + 1);
	*n = want < *left ? want : *left;
	const uint8_t *at = *p;
	*p += *n, *left -= *n;
	return at;
}

static uint64_t take_u64(const uint8_t **p, size_t *left)
{
	uint64_t v = 0;
	for (int i = 0; i < 8 && *left; i++, (*p)++, (*left)--)
		v = v << 8 | **p;
	return v;
}

static int same(const void *a, size_t an, const void *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static void book_round_trip(const uint8_t **p, size_t *left)
{
	struct jg_msg_book m = {0}, back;
	m.dir = (const char *)take(p, left, 2000, &m.dir_len);
	m.name = (const char *)take(p, left, 300, &m.name_len);
	m.charset = (const char *)take(p, left, JG_MSG_CHARSET_MAX, &m.charset_len);
	m.expect_size = take_u64(p, left);
	m.expect_ino = take_u64(p, left);
	m.body = (const char *)take(p, left, 2000, &m.body_len);
	size_t meta = jg_msg_book_meta_len(&m);
	uint8_t *frame = malloc(meta + m.body_len + 1);
	if (!frame)
		abort();
	struct jg_frame_header h = {JG_FRAME_BOOK, 7, 0, 0x12345}, dh;
	check(jg_msg_book_encode_meta(frame, &h, &m) == 0, "book: refused fields within bounds");
	if (m.body_len)
		memcpy(frame + meta, m.body, m.body_len);
	check(jg_frame_decode_header(frame, meta + m.body_len, &dh) == 1 && dh.type == h.type &&
	          dh.id == h.id && dh.flags == h.flags && dh.length == meta + m.body_len - JG_FRAME_HEADER,
	      "book: header");
	check(jg_msg_book_decode(frame + JG_FRAME_HEADER, dh.length, &back) == 0, "book: decode");
	check(same(m.dir, m.dir_len, back.dir, back.dir_len) &&
	          same(m.name, m.name_len, back.name, back.name_len) &&
	          same(m.charset, m.charset_len, back.charset, back.charset_len) &&
	          same(m.body, m.body_len, back.body, back.body_len) &&
	          m.expect_size == back.expect_size && m.expect_ino == back.expect_ino,
	      "book: fields");
	free(frame);
}

static void result_round_trip(const uint8_t **p, size_t *left)
{
	static struct jg_msg_result m, back;
	memset(&m, 0, sizeof m);
	m.err = -(int)(take_u64(p, left) % 64);
	m.words = take_u64(p, left);
	m.distinct = take_u64(p, left);
	size_t n;
	take(p, left, JG_MSG_TOP_MAX, &n); /* only its length counts */
	m.n_top = n;
	for (size_t i = 0; i < m.n_top; i++) {
		m.top[i].word = (const char *)take(p, left, 64, &m.top[i].len);
		m.top[i].count = take_u64(p, left);
	}
	m.error = (const char *)take(p, left, JG_MSG_WORD_MAX, &m.error_len);
	for (size_t i = 0; i < sizeof m.sha256; i++)
		m.sha256[i] = (uint8_t)(i * 37 + m.words);
	m.charset = (const char *)take(p, left, JG_MSG_CHARSET_MAX, &m.charset_len);
	m.charset_from = (uint8_t)take_u64(p, left);
	m.note = (const char *)take(p, left, JG_MSG_WORD_MAX, &m.note_len);
	struct jg_writer w;
	jg_writer_init(&w);
	jg_writer_begin_frame(&w);
	jg_msg_result_encode(&w, &m);
	jg_writer_seal(&w, JG_FRAME_RESULT, 9, 0);
	check(!w.failed, "result: writer");
	struct jg_frame_header h;
	check(jg_frame_decode_header(w.buf, w.len, &h) == 1 && h.type == JG_FRAME_RESULT &&
	          h.id == 9 && h.length == w.len - JG_FRAME_HEADER,
	      "result: header");
	check(jg_msg_result_decode(w.buf + JG_FRAME_HEADER, h.length, &back) == 0, "result: decode");
	int ok = back.err == m.err && back.words == m.words && back.distinct == m.distinct &&
	         back.n_top == m.n_top && same(m.error, m.error_len, back.error, back.error_len) &&
	         memcmp(m.sha256, back.sha256, sizeof m.sha256) == 0 &&
	         same(m.charset, m.charset_len, back.charset, back.charset_len) &&
	         back.charset_from == m.charset_from &&
	         same(m.note, m.note_len, back.note, back.note_len);
	for (size_t i = 0; ok && i < m.n_top; i++)
		ok = same(m.top[i].word, m.top[i].len, back.top[i].word, back.top[i].len) &&
		     m.top[i].count == back.top[i].count;
	check(ok, "result: fields");
	jg_writer_fini(&w);
}

struct table_check {
	const uint8_t *words;      /* the entries as sent: len byte, word, count */
	size_t at, n;
};

static int next_entry(void *ctx, const char *word, size_t len, uint64_t count)
{
	struct table_check *t = ctx;
	const uint8_t *e = t->words + t->at;
	check(e[0] == len && memcmp(e + 1, word, len) == 0, "table: word");
	uint64_t want;
	memcpy(&want, e + 1 + len, 8);
	check(want == count, "table: count");
	t->at += 1 + len + 8;
	t->n++;
	return 0;
}

static void table_round_trip(const uint8_t **p, size_t *left)
{
	/* The entries as sent, kept to check the decoder's answers against. */
	uint8_t *sent = malloc(*left * 10 + 16);
	if (!sent)
		abort();
	struct jg_writer w;
	jg_writer_init(&w);
	jg_msg_table_begin(&w);
	size_t n = 0, at = 0;
	while (*left) {
		size_t len;
		const uint8_t *word = take(p, left, 40, &len);
		uint64_t count = take_u64(p, left);
		sent[at] = (uint8_t)len;
		memcpy(sent + at + 1, word, len);
		memcpy(sent + at + 1 + len, &count, 8);
		at += 1 + len + 8;
		check(jg_msg_table_add(&w, (const char *)word, len, count) == 0, "table: a full chunk");
		n++;
	}
	jg_msg_table_seal(&w);
	check(!w.failed, "table: writer");
	struct jg_frame_header h;
	check(jg_frame_decode_header(w.buf, w.len, &h) == 1 && h.type == JG_FRAME_TABLE,
	      "table: header");
	struct table_check t = {sent, 0, 0};
	check(jg_msg_table_decode(w.buf + JG_FRAME_HEADER, h.length, next_entry, &t) == 0 &&
	          t.n == n,
	      "table: entries");
	jg_msg_table_end(&w);
	check(jg_frame_decode_header(w.buf, w.len, &h) == 1 && h.type == JG_FRAME_TABLE_END &&
	          h.length == 0,
	      "table end");
	uint8_t flush[JG_FRAME_HEADER];
	jg_msg_flush_encode(flush);
	check(jg_frame_decode_header(flush, sizeof flush, &h) == 1 && h.type == JG_FRAME_FLUSH &&
	          h.length == 0,
	      "flush");
	jg_writer_fini(&w);
	free(sent);
}

static void round_trip(const uint8_t *data, size_t size)
{
	book_round_trip(&data, &size);
	result_round_trip(&data, &size);
	table_round_trip(&data, &size);
}

static int sum_entry(void *ctx, const char *word, size_t len, uint64_t count)
{
	uint64_t *sum = ctx;
	for (size_t i = 0; i < len; i++)
		*sum += (unsigned char)word[i];
	*sum += count;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size && (data[0] & 1)) {
		round_trip(data + 1, size - 1);
		return 0;
	}
	if (size) { /* the stream after the mode byte */
		data++;
		size--;
	}
	size_t off = 0;
	uint64_t sum = 0;
	for (;;) {
		struct jg_frame_header h;
		int rc = jg_frame_decode_header(data + off, size - off, &h);
		if (rc <= 0 || size - off - JG_FRAME_HEADER < h.length)
			break;
		const uint8_t *payload = data + off + JG_FRAME_HEADER;
		struct jg_msg_book b;
		struct jg_msg_result r;
		switch (h.type) {
		case JG_FRAME_BOOK:
		case JG_FRAME_RECOUNT:
			if (jg_msg_book_decode(payload, h.length, &b) == 0)
				sum += (unsigned char)(b.dir_len ? b.dir[b.dir_len - 1] : 0) + b.body_len;
			break;
		case JG_FRAME_RESULT:
			if (jg_msg_result_decode(payload, h.length, &r) == 0)
				for (size_t i = 0; i < r.n_top; i++)
					sum += r.top[i].len ? (unsigned char)r.top[i].word[r.top[i].len - 1] : 0;
			break;
		case JG_FRAME_TABLE:
			jg_msg_table_decode(payload, h.length, sum_entry, &sum);
			break;
		default:
			break;
		}
		off += JG_FRAME_HEADER + h.length;
	}
	return sum == 1 ? 0 : 0; /* keeps `sum` observable */
}
