#include "proto.h"

#include <stdlib.h>
#include <string.h>

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void jg_frame_encode_header(uint8_t out[JG_FRAME_HEADER], const struct jg_frame_header *h)
{
	be16(out, JG_FRAME_MAGIC);
	out[2] = JG_FRAME_VERSION;
	out[3] = h->type;
	be32(out + 4, h->id);
	be32(out + 8, h->length);
	be32(out + 12, h->flags);
}

static int known_type(uint8_t t)
{
	return (t >= JG_FRAME_BOOK && t <= JG_FRAME_FLUSH) ||
	       (t >= JG_FRAME_RESULT && t <= JG_FRAME_TABLE_END);
}

int jg_frame_decode_header(const uint8_t *buf, size_t len, struct jg_frame_header *h)
{
	if (len < JG_FRAME_HEADER)
		return 0;
	if (((uint16_t)buf[0] << 8 | buf[1]) != JG_FRAME_MAGIC || buf[2] != JG_FRAME_VERSION ||
	    !known_type(buf[3]))
		return -1;
	h->type = buf[3];
	h->id = rd32(buf + 4);
	h->length = rd32(buf + 8);
	h->flags = rd32(buf + 12);
	return h->length <= JG_FRAME_MAX ? 1 : -1;
}

void jg_cursor_init(struct jg_cursor *c, const void *buf, size_t len)
{
	c->p = buf;
	c->left = len;
	c->bad = 0;
}

const uint8_t *jg_get_bytes(struct jg_cursor *c, size_t n)
{
	if (c->bad || n > c->left) {
		c->bad = 1;
		return NULL;
	}
	const uint8_t *p = c->p;
	c->p += n;
	c->left -= n;
	return p;
}

uint16_t jg_get_u16(struct jg_cursor *c)
{
	const uint8_t *p = jg_get_bytes(c, 2);
	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t jg_get_u32(struct jg_cursor *c)
{
	const uint8_t *p = jg_get_bytes(c, 4);
	return p ? rd32(p) : 0;
}

uint64_t jg_get_u64(struct jg_cursor *c)
{
	const uint8_t *p = jg_get_bytes(c, 8);
	return p ? (uint64_t)rd32(p) << 32 | rd32(p + 4) : 0;
}

void jg_writer_init(struct jg_writer *w)
{
	memset(w, 0, sizeof *w);
}

void jg_writer_fini(struct jg_writer *w)
{
	free(w->buf);
	jg_writer_init(w);
}

void jg_put_bytes(struct jg_writer *w, const void *p, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *buf = realloc(w->buf, cap);
		if (!buf) {
			w->failed = 1;
			return;
		}
		w->buf = buf;
		w->cap = cap;
	}
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void jg_put_u16(struct jg_writer *w, uint16_t v)
{
	uint8_t b[2];
	be16(b, v);
	jg_put_bytes(w, b, 2);
}

void jg_put_u32(struct jg_writer *w, uint32_t v)
{
	uint8_t b[4];
	be32(b, v);
	jg_put_bytes(w, b, 4);
}

void jg_put_u64(struct jg_writer *w, uint64_t v)
{
	jg_put_u32(w, (uint32_t)(v >> 32));
	jg_put_u32(w, (uint32_t)v);
}

void jg_writer_begin_frame(struct jg_writer *w)
{
	w->len = 0;
	w->failed = 0;
	uint8_t zero[JG_FRAME_HEADER] = {0};
	jg_put_bytes(w, zero, sizeof zero);
}

void jg_writer_seal(struct jg_writer *w, uint8_t type, uint32_t id, uint32_t flags)
{
	if (w->failed)
		return;
	struct jg_frame_header h = {type, id, (uint32_t)(w->len - JG_FRAME_HEADER), flags};
	jg_frame_encode_header(w->buf, &h);
}

size_t jg_msg_book_meta_len(const struct jg_msg_book *m)
{
	return JG_FRAME_HEADER + 2 + m->dir_len + 2 + m->name_len + 1 + m->charset_len + 16;
}

int jg_msg_book_encode_meta(uint8_t *out, struct jg_frame_header *h, const struct jg_msg_book *m)
{
	size_t meta = jg_msg_book_meta_len(m) - JG_FRAME_HEADER;
	if (m->dir_len > UINT16_MAX || m->name_len > UINT16_MAX ||
	    m->charset_len > JG_MSG_CHARSET_MAX || m->body_len > JG_FRAME_MAX - meta)
		return -1;
	h->length = (uint32_t)(meta + m->body_len);
	jg_frame_encode_header(out, h);
	uint8_t *q = out + JG_FRAME_HEADER;
	be16(q, (uint16_t)m->dir_len);
	memcpy(q + 2, m->dir, m->dir_len);
	q += 2 + m->dir_len;
	be16(q, (uint16_t)m->name_len);
	memcpy(q + 2, m->name, m->name_len);
	q += 2 + m->name_len;
	q[0] = (uint8_t)m->charset_len;
	if (m->charset_len)
		memcpy(q + 1, m->charset, m->charset_len);
	q += 1 + m->charset_len;
	for (int i = 0; i < 8; i++) {
		q[i] = (uint8_t)(m->expect_size >> (56 - 8 * i));
		q[8 + i] = (uint8_t)(m->expect_ino >> (56 - 8 * i));
	}
	return 0;
}

void jg_msg_result_encode(struct jg_writer *w, const struct jg_msg_result *m)
{
	jg_put_u32(w, (uint32_t)m->err);
	jg_put_u64(w, m->words);
	jg_put_u64(w, m->distinct);
	jg_put_u16(w, (uint16_t)m->n_top);
	for (size_t i = 0; i < m->n_top; i++) {
		jg_put_u16(w, (uint16_t)m->top[i].len);
		jg_put_bytes(w, m->top[i].word, m->top[i].len);
		jg_put_u64(w, m->top[i].count);
	}
	jg_put_u16(w, (uint16_t)m->error_len);
	jg_put_bytes(w, m->error, m->error_len);
	jg_put_bytes(w, m->sha256, sizeof m->sha256);
	uint8_t cl = (uint8_t)m->charset_len;
	jg_put_bytes(w, &cl, 1);
	jg_put_bytes(w, m->charset, m->charset_len);
	jg_put_bytes(w, &m->charset_from, 1);
	jg_put_u16(w, (uint16_t)m->note_len);
	jg_put_bytes(w, m->note, m->note_len);
}

void jg_msg_table_begin(struct jg_writer *w)
{
	jg_writer_begin_frame(w);
	jg_put_u32(w, 0); /* the entry count, filled in by jg_msg_table_seal() */
	w->entries = 0;
}

int jg_msg_table_add(struct jg_writer *w, const char *word, size_t len, uint64_t count)
{
	jg_put_u32(w, (uint32_t)len);
	jg_put_bytes(w, word, len);
	jg_put_u64(w, count);
	w->entries++;
	return w->len >= JG_MSG_TABLE_CHUNK;
}

void jg_msg_table_seal(struct jg_writer *w)
{
	if (w->failed)
		return;
	be32(w->buf + JG_FRAME_HEADER, w->entries);
	jg_writer_seal(w, JG_FRAME_TABLE, 0, 0);
}

void jg_msg_table_end(struct jg_writer *w)
{
	jg_writer_begin_frame(w);
	jg_writer_seal(w, JG_FRAME_TABLE_END, 0, 0);
}

void jg_msg_flush_encode(uint8_t out[JG_FRAME_HEADER])
{
	struct jg_frame_header h = {JG_FRAME_FLUSH, 0, 0, 0};
	jg_frame_encode_header(out, &h);
}

int jg_msg_book_decode(const uint8_t *payload, size_t len, struct jg_msg_book *m)
{
	struct jg_cursor c;
	jg_cursor_init(&c, payload, len);
	m->dir_len = jg_get_u16(&c);
	m->dir = (const char *)jg_get_bytes(&c, m->dir_len);
	m->name_len = jg_get_u16(&c);
	m->name = (const char *)jg_get_bytes(&c, m->name_len);
	const uint8_t *cl = jg_get_bytes(&c, 1);
	m->charset_len = cl ? *cl : 0;
	m->charset = (const char *)jg_get_bytes(&c, m->charset_len);
	m->expect_size = jg_get_u64(&c);
	m->expect_ino = jg_get_u64(&c);
	if (c.bad || m->charset_len > JG_MSG_CHARSET_MAX)
		return -1;
	m->body = (const char *)c.p;
	m->body_len = c.left;
	return 0;
}

int jg_msg_result_decode(const uint8_t *payload, size_t len, struct jg_msg_result *m)
{
	struct jg_cursor c;
	jg_cursor_init(&c, payload, len);
	m->err = (int)jg_get_u32(&c);
	m->words = jg_get_u64(&c);
	m->distinct = jg_get_u64(&c);
	m->n_top = jg_get_u16(&c);
	if (m->n_top > JG_MSG_TOP_MAX)
		return -1;
	for (size_t k = 0; k < m->n_top; k++) {
		m->top[k].len = jg_get_u16(&c);
		m->top[k].word = (const char *)jg_get_bytes(&c, m->top[k].len);
		m->top[k].count = jg_get_u64(&c);
		if (m->top[k].len > JG_MSG_WORD_MAX)
			return -1;
	}
	m->error_len = jg_get_u16(&c);
	m->error = (const char *)jg_get_bytes(&c, m->error_len);
	const uint8_t *digest = jg_get_bytes(&c, sizeof m->sha256);
	if (digest)
		memcpy(m->sha256, digest, sizeof m->sha256);
	const uint8_t *cl = jg_get_bytes(&c, 1);
	m->charset_len = cl ? *cl : 0;
	m->charset = (const char *)jg_get_bytes(&c, m->charset_len);
	const uint8_t *from = jg_get_bytes(&c, 1);
	m->charset_from = from ? *from : 0;
	m->note_len = jg_get_u16(&c);
	m->note = (const char *)jg_get_bytes(&c, m->note_len);
	return c.bad || c.left || m->error_len > JG_MSG_WORD_MAX ||
	       m->charset_len > JG_MSG_CHARSET_MAX || m->note_len > JG_MSG_WORD_MAX ? -1 : 0;
}

int jg_msg_table_decode(const uint8_t *payload, size_t len,
                        int (*fn)(void *ctx, const char *word, size_t len, uint64_t count),
                        void *ctx)
{
	struct jg_cursor c;
	jg_cursor_init(&c, payload, len);
	uint32_t n = jg_get_u32(&c);
	for (uint32_t k = 0; k < n && !c.bad; k++) {
		uint32_t wl = jg_get_u32(&c);
		const uint8_t *word = jg_get_bytes(&c, wl);
		uint64_t count = jg_get_u64(&c);
		if (c.bad)
			return -1;
		if (fn(ctx, (const char *)word, wl, count) != 0)
			return -1;
	}
	return c.bad || c.left ? -1 : 0;
}
