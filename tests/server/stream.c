#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Large enough that a 100 KB body takes two writes, small enough that
 * thousands of concurrent responses fit in memory. */
#define BATCH_MAX (64 * 1024)
#define LAST_CHUNK "0\r\n\r\n"
#define LAST_CHUNK_LEN 5
/* Before a trailer section that never ends: the last-chunk without the
 * blank line. */
#define LAST_CHUNK_OPEN_LEN 3
/* Chunk-size line (at most 16 hex digits + CRLF), CRLF after the data, and
 * room for the last-chunk so it can ride in the same batch. */
#define CHUNK_OVERHEAD (18 + 2 + LAST_CHUNK_LEN)

int jg_stream_init(struct jg_stream *s, const struct jg_plan *plan,
                   char *head, size_t head_len)
{
    memset(s, 0, sizeof *s);
    s->plan = plan;
    s->head = head;
    s->head_len = head_len;
    /* Endless header lines replace the blank line that ends the head. */
    if (plan->junk_at == JG_JUNK_HEADERS && head_len >= 2)
        s->head_len -= 2;
    s->limit = plan->cut_how != JG_CUT_NONE ? plan->cut : UINT64_MAX;
    if (plan->clen.set && plan->framing != JG_FRAME_CHUNKED && !plan->no_body)
        s->promised = plan->clen.v;
    s->terminated = plan->no_body || plan->framing != JG_FRAME_CHUNKED;
    s->eof = plan->no_body ||
             (plan->enc == JG_ENC_NONE && plan->body.size == 0);
    if (!plan->no_body && plan->enc != JG_ENC_NONE) {
        s->enc = jg_enc_new(plan->enc, plan->enc_window, &plan->body);
        if (!s->enc)
            return -1;
    }
    return 0;
}

void jg_stream_drop_encoder(struct jg_stream *s)
{
    jg_enc_free(s->enc);
    s->enc = NULL;
}

void jg_stream_release(struct jg_stream *s)
{
    jg_stream_drop_encoder(s);
    free(s->head);
    s->head = NULL;
}

size_t jg_stream_batch_cap(const struct jg_stream *s)
{
    uint64_t body = s->plan->no_body ? 0 : s->plan->body.size;

    /* Also keeps an endless body's size (UINT64_MAX) out of the sums. */
    if (s->plan->junk_at != JG_JUNK_NONE || body >= BATCH_MAX)
        return s->head_len + BATCH_MAX;
    /* Encoded output exceeds its input by at most a few bytes per 16 KB
     * block plus the header and trailer. */
    return s->head_len + (size_t)body + (size_t)body / 1000 + 64 +
           CHUNK_OVERHEAD;
}

static unsigned hex_width(uint64_t n)
{
    unsigned w = 1;

    while (n >>= 4)
        w++;
    return w;
}

static ssize_t next_bytes(struct jg_stream *s, char *dst, size_t want)
{
    const struct jg_body *body = &s->plan->body;
    ssize_t n;

    if (s->enc)
        return jg_enc_produce(s->enc, dst, want, &s->eof);
    n = jg_body_read(body, s->produced, dst, want);
    if (n == 0)
        return -1; /* the size said there was more */
    if (n > 0 && s->produced + (uint64_t)n >= body->size)
        s->eof = true;
    return n;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static size_t produce(struct jg_stream *s, char *dst, size_t room,
                      uint64_t budget, size_t *payload)
{
    bool chunked = s->plan->framing == JG_FRAME_CHUNKED;
    size_t overhead = chunked ? CHUNK_OVERHEAD : 0;

    if (room <= overhead)
        return 0;
    size_t want = (size_t)min_u64(min_u64(room - overhead, budget),
                                  s->limit - s->produced);
    if (want == 0)
        return 0;
    /* The chunk-size line is written after the data, so it is sized for
     * `want` and zero-padded if less came out (leading zeros are valid). */
    unsigned width = chunked ? hex_width(want) : 0;
    size_t line = chunked ? width + 2 : 0;
    ssize_t n = next_bytes(s, dst + line, want);
    if (n < 0)
        s->failed = true;
    if (n <= 0)
        return 0;
    s->produced += (uint64_t)n;
    *payload = (size_t)n;
    if (!chunked)
        return (size_t)n;
    char hex[20];
    snprintf(hex, sizeof hex, "%0*zx\r\n", (int)width, (size_t)n);
    memcpy(dst, hex, line);
    memcpy(dst + line + n, "\r\n", 2);
    return line + (size_t)n + 2;
}

static size_t junk_lines(struct jg_stream *s, char *dst, size_t room,
                         uint64_t budget)
{
    size_t n = (size_t)min_u64(min_u64(room, budget),
                               s->plan->junk_limit - s->junk.sent);

    jg_junk_fill(&s->junk, dst, n);
    return n;
}

/* The last-chunk, or with trailers= its first line only: the trailer
 * section that follows never ends. */
static size_t terminate(struct jg_stream *s, char *dst, size_t room)
{
    bool open = s->plan->junk_at == JG_JUNK_TRAILERS;
    size_t n = open ? LAST_CHUNK_OPEN_LEN : LAST_CHUNK_LEN;

    if (room < n)
        return 0;
    memcpy(dst, LAST_CHUNK, n);
    s->terminated = true;
    s->junking = open;
    return n;
}

size_t jg_stream_fill(struct jg_stream *s, char *buf, size_t cap,
                      uint64_t budget, size_t *payload)
{
    size_t off = 0;

    *payload = 0;
    if (!s->head_done) {
        memcpy(buf, s->head, s->head_len);
        off = s->head_len;
        s->head_done = true;
        s->junking = s->plan->junk_at == JG_JUNK_HEADERS;
    }
    if (!s->junking && !s->eof && !s->failed) {
        off += produce(s, buf + off, cap - off, budget, payload);
        budget -= *payload;
    }
    if (!s->junking && s->eof && !s->terminated)
        off += terminate(s, buf + off, cap - off);
    if (s->junking)
        off += junk_lines(s, buf + off, cap - off, budget);
    return off;
}

uint64_t jg_stream_paced(const struct jg_stream *s)
{
    return s->produced + s->junk.sent;
}

bool jg_stream_done(const struct jg_stream *s)
{
    return s->head_done && !s->junking && s->eof && s->terminated &&
           s->produced >= s->promised;
}

enum jg_cut jg_stream_cut(const struct jg_stream *s)
{
    enum jg_cut how = s->plan->cut_how;

    if (!s->head_done)
        return JG_CUT_NONE;
    if (s->junking)
        return s->junk.sent >= s->plan->junk_limit ? JG_CUT_SHORT
                                                   : JG_CUT_NONE;
    if (!s->eof)
        return s->limit != UINT64_MAX && s->produced >= s->limit
                   ? how : JG_CUT_NONE;
    if (s->produced < s->promised)
        return how != JG_CUT_NONE ? how : JG_CUT_SHORT;
    return JG_CUT_NONE;
}
