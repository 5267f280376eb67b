#include "reqlog.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct jg_reqlog {
    FILE *f;
    char *buf;  /* one line is built here, then written with one call */
    size_t len;
    size_t cap;
    bool oom;
};

struct jg_reqlog *jg_reqlog_open(const char *path)
{
    struct jg_reqlog *log = calloc(1, sizeof *log);

    if (!log)
        return NULL;
    log->f = fopen(path, "a");
    if (!log->f) {
        free(log);
        return NULL;
    }
    return log;
}

void jg_reqlog_close(struct jg_reqlog *log)
{
    if (!log)
        return;
    fclose(log->f);
    free(log->buf);
    free(log);
}

static bool reserve(struct jg_reqlog *log, size_t extra)
{
    if (log->len + extra <= log->cap)
        return true;
    size_t cap = log->cap ? log->cap : 512;
    while (cap < log->len + extra)
        cap *= 2;
    char *p = realloc(log->buf, cap);
    if (!p) {
        log->oom = true;
        return false;
    }
    log->buf = p;
    log->cap = cap;
    return true;
}

static void put(struct jg_reqlog *log, const char *s, size_t n)
{
    if (!reserve(log, n))
        return;
    memcpy(log->buf + log->len, s, n);
    log->len += n;
}

static void put_str(struct jg_reqlog *log, const char *s)
{
    put(log, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid.
 * Overlong forms and surrogates are rejected so json.loads() accepts the
 * log; stray bytes are escaped individually instead. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    unsigned cp;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2, min = 0x80, cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3, min = 0x800, cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void put_escaped(struct jg_reqlog *log, struct jg_slice v)
{
    const unsigned char *s = (const unsigned char *)v.p;

    put(log, "\"", 1);
    for (size_t i = 0; i < v.n;) {
        size_t u;
        char esc[8];
        if (s[i] == '"' || s[i] == '\\') {
            esc[0] = '\\', esc[1] = (char)s[i];
            put(log, esc, 2);
            i++;
        } else if (s[i] >= 0x20 && s[i] < 0x7f) {
            put(log, (const char *)s + i, 1);
            i++;
        } else if (s[i] >= 0x80 && (u = utf8_len(s + i, v.n - i)) > 0) {
            put(log, (const char *)s + i, u);
            i += u;
        } else {
            snprintf(esc, sizeof esc, "\\u%04x", s[i]);
            put(log, esc, 6);
            i++;
        }
    }
    put(log, "\"", 1);
}

static void put_field(struct jg_reqlog *log, const char *name,
                      struct jg_slice v)
{
    put_str(log, ",\"");
    put_str(log, name);
    put_str(log, "\":");
    put_escaped(log, v);
}

static void put_prefix(struct jg_reqlog *log, const char *ev, uint64_t conn,
                       unsigned req)
{
    struct timespec ts;
    char num[96];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    log->len = 0;
    log->oom = false;
    snprintf(num, sizeof num,
             "{\"ev\":\"%s\",\"t\":%lld.%06ld,\"conn\":%" PRIu64 ",\"req\":%u",
             ev, (long long)ts.tv_sec, ts.tv_nsec / 1000, conn, req);
    put_str(log, num);
}

static void flush_line(struct jg_reqlog *log)
{
    put(log, "}\n", 2);
    if (log->oom)
        return;
    /* One fwrite + fflush per line so a reader tailing the file never
     * sees half a record. */
    fwrite(log->buf, 1, log->len, log->f);
    fflush(log->f);
}

void jg_reqlog_start(struct jg_reqlog *log, uint64_t conn, unsigned req,
                     const struct http_req *r)
{
    if (!log)
        return;
    put_prefix(log, "start", conn, req);
    put_field(log, "method", r->method);
    put_field(log, "target", r->target);
    put_field(log, "host", r->host);
    put_field(log, "ua", r->ua);
    put_field(log, "ae", r->accept_encoding);
    put_field(log, "inm", r->if_none_match);
    put_field(log, "ims", r->if_modified_since);
    put_field(log, "xt", r->x_test);
    put_field(log, "range", r->range);
    put_field(log, "ifrange", r->if_range);
    if (r->accept_encoding_lines > 1) {
        char n[16];
        snprintf(n, sizeof n, "%u", r->accept_encoding_lines);
        put_field(log, "ae_lines", (struct jg_slice){n, strlen(n)});
    }
    flush_line(log);
}

void jg_reqlog_generation(struct jg_reqlog *log, uint64_t n)
{
    char num[40];

    if (!log)
        return;
    put_prefix(log, "generation", 0, 0);
    snprintf(num, sizeof num, ",\"n\":%" PRIu64, n);
    put_str(log, num);
    flush_line(log);
}

void jg_reqlog_end(struct jg_reqlog *log, uint64_t conn, unsigned req,
                   struct jg_slice target, int status, uint64_t bytes,
                   const char *how)
{
    char num[80];

    if (!log)
        return;
    put_prefix(log, "end", conn, req);
    put_field(log, "target", target);
    snprintf(num, sizeof num, ",\"status\":%d,\"bytes\":%" PRIu64, status,
             bytes);
    put_str(log, num);
    put_field(log, "how", jg_slice_make(how, strlen(how)));
    flush_line(log);
}
