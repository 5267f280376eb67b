#include "response.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fixed fields plus the variable ones bounded by their own lengths. */
#define HEAD_BASE 512

struct reason {
    int status;
    const char *text;
};

static const struct reason reasons[] = {
    { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
    { 203, "Non-Authoritative Information" }, { 204, "No Content" },
    { 205, "Reset Content" }, { 206, "Partial Content" },
    { 300, "Multiple Choices" }, { 301, "Moved Permanently" },
    { 302, "Found" }, { 303, "See Other" }, { 304, "Not Modified" },
    { 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
    { 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
    { 404, "Not Found" }, { 405, "Method Not Allowed" },
    { 406, "Not Acceptable" }, { 408, "Request Timeout" },
    { 409, "Conflict" }, { 410, "Gone" }, { 411, "Length Required" },
    { 412, "Precondition Failed" }, { 413, "Content Too Large" },
    { 414, "URI Too Long" }, { 415, "Unsupported Media Type" },
    { 416, "Range Not Satisfiable" }, { 418, "I'm a teapot" },
    { 429, "Too Many Requests" },
    { 431, "Request Header Fields Too Large" },
    { 451, "Unavailable For Legal Reasons" },
    { 500, "Internal Server Error" }, { 501, "Not Implemented" },
    { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
    { 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
};

const char *jg_reason(int status)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return "Unknown";
}

void jg_http_date(time_t t, char *buf, size_t cap)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

struct out {
    char *p;
    size_t len;
    size_t cap;
};

/* Each call site passes a literal format (-Wformat=2); this only tracks
 * the position. */
static void advance(struct out *o, int n)
{
    if (n > 0)
        o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len;
}

/* clen= is announced whatever the framing and status: next to
 * Transfer-Encoding (which RFC 9112 says wins) and on 204 and 304 too,
 * where no length may be sent at all. */
static void framing_fields(const struct jg_plan *p, struct out *o)
{
    if (p->clen.set)
        advance(o, snprintf(o->p + o->len, o->cap - o->len,
                            "Content-Length: %" PRIu64 "\r\n", p->clen.v));
    if (!jg_status_has_body(p->status))
        return;
    if (p->framing == JG_FRAME_LENGTH && !p->clen.set)
        advance(o, snprintf(o->p + o->len, o->cap - o->len,
                            "Content-Length: %" PRIu64 "\r\n", p->body.size));
    else if (p->framing == JG_FRAME_CHUNKED)
        advance(o, snprintf(o->p + o->len, o->cap - o->len,
                            "Transfer-Encoding: chunked\r\n"));
    if (p->enc != JG_ENC_NONE)
        advance(o, snprintf(o->p + o->len, o->cap - o->len,
                            "Content-Encoding: %s\r\n", jg_enc_name(p->enc)));
}

static void optional_fields(const struct jg_plan *p, struct out *o)
{
    char date[40];

    if (p->etag[0])
        advance(o, snprintf(o->p + o->len, o->cap - o->len, "ETag: %s\r\n",
                            p->etag));
    if (p->last_modified) {
        jg_http_date(p->last_modified, date, sizeof date);
        advance(o, snprintf(o->p + o->len, o->cap - o->len,
                            "Last-Modified: %s\r\n", date));
    }
    if (p->location)
        advance(o, snprintf(o->p + o->len, o->cap - o->len,
                            "Location: %s\r\n", p->location));
    if (p->retry_after.set)
        advance(o, snprintf(o->p + o->len, o->cap - o->len,
                            "Retry-After: %" PRIu64 "\r\n", p->retry_after.v));
    if (p->raw_crange || p->content_range[0])
        advance(o, snprintf(o->p + o->len, o->cap - o->len,
                            "Content-Range: %s\r\n",
                            p->raw_crange ? p->raw_crange : p->content_range));
    if (p->rawhdr)
        advance(o, snprintf(o->p + o->len, o->cap - o->len, "X-Raw: %s\r\n",
                            p->rawhdr));
}

char *jg_head_render(const struct jg_plan *p, const char *date,
                     bool keep_alive, size_t *len)
{
    struct out o;

    o.cap = HEAD_BASE + strlen(p->ctype) + strlen(p->etag) +
            sizeof p->content_range +
            (p->raw_crange ? strlen(p->raw_crange) : 0) +
            (p->location ? strlen(p->location) : 0) +
            (p->rawhdr ? strlen(p->rawhdr) : 0);
    o.p = malloc(o.cap);
    o.len = 0;
    if (!o.p)
        return NULL;
    advance(&o, snprintf(o.p, o.cap,
                         "HTTP/1.1 %d %s\r\nServer: jg-testserver\r\n"
                         "Date: %s\r\nContent-Type: %s\r\n",
                         p->status, jg_reason(p->status), date, p->ctype));
    framing_fields(p, &o);
    optional_fields(p, &o);
    advance(&o, snprintf(o.p + o.len, o.cap - o.len, "Connection: %s\r\n\r\n",
                         keep_alive ? "keep-alive" : "close"));
    *len = o.len;
    return o.p;
}
