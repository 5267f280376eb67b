#include "http_req.h"

#include <string.h>

struct line_iter {
    const char *p;
    const char *end;
};

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field values may carry obs-text but no control characters besides HTAB:
 * a bare CR or NUL is a classic request-smuggling vector. */
static bool valid_value(struct jg_slice v)
{
    for (size_t i = 0; i < v.n; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static struct jg_slice trim_ows(struct jg_slice s)
{
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

/* Returns the next line without its LF (and CR); callers only iterate over
 * a range already known to end with a blank line. */
static struct jg_slice next_line(struct line_iter *it)
{
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    struct jg_slice line = jg_slice_make(it->p, (size_t)(nl - it->p));

    it->p = nl + 1;
    if (line.n && line.p[line.n - 1] == '\r')
        line.n--;
    return line;
}

/* RFC 9112 asks servers to ignore empty lines before the request line,
 * which some clients send after a previous request's body. */
static size_t skip_blank_lines(const char *buf, size_t len)
{
    size_t i = 0;

    for (;;) {
        if (i < len && buf[i] == '\n')
            i++;
        else if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
            i += 2;
        else
            return i;
    }
}

static size_t find_head_end(const char *buf, size_t len, size_t start)
{
    size_t i = start;

    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl)
            return 0;
        size_t e = (size_t)(nl - buf);
        size_t n = e - i;
        if (n && buf[e - 1] == '\r')
            n--;
        if (n == 0 && i != start)
            return e + 1;
        i = e + 1;
    }
    return 0;
}

static enum http_parse_status parse_version(struct jg_slice v, int *minor)
{
    if (v.n != 8 || memcmp(v.p, "HTTP/", 5) != 0 || v.p[6] != '.' ||
        v.p[5] < '0' || v.p[5] > '9' || v.p[7] < '0' || v.p[7] > '9')
        return HTTP_PARSE_BAD;
    if (v.p[5] != '1')
        return HTTP_PARSE_BAD_VERSION;
    /* Later 1.x minors must be treated as the highest one we speak. */
    *minor = v.p[7] == '0' ? 0 : 1;
    return HTTP_PARSE_OK;
}

/* Absolute-form targets (proxy style) are reduced to their path so routing
 * only ever deals with origin-form. */
static bool split_target(struct http_req *r)
{
    struct jg_slice t = r->target;

    if (t.n >= 7 && strncasecmp(t.p, "http://", 7) == 0) {
        const char *slash = memchr(t.p + 7, '/', t.n - 7);
        const char *q = memchr(t.p + 7, '?', t.n - 7);
        if (q && (!slash || q < slash))
            return false;
        if (!slash) {
            r->path = jg_slice_make("/", 1);
            return true;
        }
        t = jg_slice_make(slash, (size_t)(t.p + t.n - slash));
    }
    if (t.n == 0 || t.p[0] != '/')
        return false;
    const char *qm = memchr(t.p, '?', t.n);
    const char *hash = memchr(t.p, '#', t.n);
    const char *end = hash ? hash : t.p + t.n;
    if (qm && qm < end) {
        r->path = jg_slice_make(t.p, (size_t)(qm - t.p));
        r->query = jg_slice_make(qm + 1, (size_t)(end - qm - 1));
    } else {
        r->path = jg_slice_make(t.p, (size_t)(end - t.p));
    }
    return true;
}

static enum http_parse_status parse_request_line(struct jg_slice l,
                                                 struct http_req *r)
{
    const char *sp1 = memchr(l.p, ' ', l.n);
    if (!sp1 || sp1 == l.p)
        return HTTP_PARSE_BAD;
    r->method = jg_slice_make(l.p, (size_t)(sp1 - l.p));
    for (size_t i = 0; i < r->method.n; i++)
        if (!is_tchar((unsigned char)r->method.p[i]))
            return HTTP_PARSE_BAD;

    const char *rest = sp1 + 1;
    const char *end = l.p + l.n;
    const char *sp2 = memchr(rest, ' ', (size_t)(end - rest));
    if (!sp2 || sp2 == rest)
        return HTTP_PARSE_BAD;
    r->target = jg_slice_make(rest, (size_t)(sp2 - rest));
    for (size_t i = 0; i < r->target.n; i++) {
        unsigned char c = (unsigned char)r->target.p[i];
        if (c <= 0x20 || c == 0x7f)
            return HTTP_PARSE_BAD;
    }
    if (!split_target(r))
        return HTTP_PARSE_BAD;
    return parse_version(jg_slice_make(sp2 + 1, (size_t)(end - sp2 - 1)),
                         &r->minor);
}

static bool parse_u64(struct jg_slice s, uint64_t *out)
{
    uint64_t v = 0;

    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        unsigned d = (unsigned)(s.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

struct conn_tokens {
    bool close;
    bool keep_alive;
    bool seen_length;
};

static void scan_connection(struct jg_slice v, struct conn_tokens *ct)
{
    while (v.n) {
        const char *comma = memchr(v.p, ',', v.n);
        size_t n = comma ? (size_t)(comma - v.p) : v.n;
        struct jg_slice tok = trim_ows(jg_slice_make(v.p, n));

        if (jg_slice_eq_ci(tok, "close"))
            ct->close = true;
        else if (jg_slice_eq_ci(tok, "keep-alive"))
            ct->keep_alive = true;
        v.p += comma ? n + 1 : n;
        v.n -= comma ? n + 1 : n;
    }
}

static void keep_first(struct jg_slice *dst, struct jg_slice v)
{
    if (!dst->p)
        *dst = v;
}

static bool store_header(struct jg_slice name, struct jg_slice v,
                         struct http_req *r, struct conn_tokens *ct)
{
    if (jg_slice_eq_ci(name, "host"))
        keep_first(&r->host, v);
    else if (jg_slice_eq_ci(name, "user-agent"))
        keep_first(&r->ua, v);
    else if (jg_slice_eq_ci(name, "accept-encoding")) {
        keep_first(&r->accept_encoding, v);
        r->accept_encoding_lines++;
    } else if (jg_slice_eq_ci(name, "x-test"))
        keep_first(&r->x_test, v);
    else if (jg_slice_eq_ci(name, "if-none-match"))
        keep_first(&r->if_none_match, v);
    else if (jg_slice_eq_ci(name, "if-modified-since"))
        keep_first(&r->if_modified_since, v);
    else if (jg_slice_eq_ci(name, "range"))
        keep_first(&r->range, v);
    else if (jg_slice_eq_ci(name, "if-range"))
        keep_first(&r->if_range, v);
    else if (jg_slice_eq_ci(name, "connection"))
        scan_connection(v, ct);
    else if (jg_slice_eq_ci(name, "transfer-encoding"))
        r->chunked_body = true;
    else if (jg_slice_eq_ci(name, "content-length")) {
        uint64_t n;
        /* Conflicting lengths make the body boundary ambiguous. */
        if (!parse_u64(v, &n) || (ct->seen_length && n != r->content_length))
            return false;
        r->content_length = n;
        ct->seen_length = true;
    }
    return true;
}

static bool parse_header_line(struct jg_slice l, struct http_req *r,
                              struct conn_tokens *ct)
{
    const char *colon = memchr(l.p, ':', l.n);
    if (!colon || colon == l.p)
        return false;
    struct jg_slice name = jg_slice_make(l.p, (size_t)(colon - l.p));
    for (size_t i = 0; i < name.n; i++)
        if (!is_tchar((unsigned char)name.p[i]))
            return false; /* also rejects obs-fold and "Name :" */
    struct jg_slice v = trim_ows(
        jg_slice_make(colon + 1, (size_t)(l.p + l.n - colon - 1)));
    if (!valid_value(v))
        return false;
    return store_header(name, v, r, ct);
}

enum http_parse_status http_parse_request(const char *buf, size_t len,
                                          size_t max_head,
                                          struct http_req *r)
{
    size_t start = skip_blank_lines(buf, len);
    size_t scan = len < max_head ? len : max_head;
    size_t end = start < scan ? find_head_end(buf, scan, start) : 0;
    struct conn_tokens ct = { 0 };

    memset(r, 0, sizeof *r);
    if (!end)
        return len >= max_head ? HTTP_PARSE_TOO_LARGE : HTTP_PARSE_INCOMPLETE;
    r->head_len = end;

    struct line_iter it = { buf + start, buf + end };
    enum http_parse_status st = parse_request_line(next_line(&it), r);
    if (st != HTTP_PARSE_OK)
        return st;
    for (struct jg_slice l = next_line(&it); l.n; l = next_line(&it))
        if (!parse_header_line(l, r, &ct))
            return HTTP_PARSE_BAD;
    r->keep_alive = !ct.close && (r->minor >= 1 || ct.keep_alive);
    return HTTP_PARSE_OK;
}
