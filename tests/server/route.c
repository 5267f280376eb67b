#include "route.h"
#include "hash.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "query.h"

#define DEFAULT_CTYPE "text/plain; charset=utf-8"
/* Generated content never changes, so it gets one fixed date (2022-01-01)
 * that conditional requests can be tested against. */
#define GENERATED_MTIME ((time_t)1640995200)
#define CACHE_PREFIX "/cache/epub/"
#define GEN_PREFIX "/gen/"

static void set_text(struct jg_plan *p, int status, const char *text)
{
    p->status = status;
    jg_body_text(&p->body, text);
}

static void set_status_text(struct jg_plan *p, int status)
{
    char msg[32];

    snprintf(msg, sizeof msg, "status %d\n", status);
    set_text(p, status, msg);
}

static void set_defaults(const struct jg_config *cfg, struct jg_plan *p)
{
    p->status = 200;
    p->ctype = DEFAULT_CTYPE;
    p->delay_ms = cfg->delay_ms;
    p->rate = cfg->rate;
    p->body.fd = -1;
}

/* Location and Content-Type values are echoed into the response head, so
 * a decoded CR or LF would let a test URL forge headers. */
static bool header_safe(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* The raw* parameters exist to send hostile bytes (escapes, DEL, invalid
 * UTF-8), so only what would end the field is refused: CR and LF (NUL
 * never gets this far, see query.h). */
static bool raw_safe(const char *s)
{
    return !s || !strpbrk(s, "\r\n");
}

static bool bad_param(struct jg_plan *p, const char *name)
{
    char msg[JG_BODY_TEXT_CAP];

    snprintf(msg, sizeof msg, "bad value for %s\n", name);
    set_text(p, 400, msg);
    return false;
}

/* enc=, its alias gzip=1, and the window parameters, which imply their
 * coding and contradict any other.  The plan is only touched on success,
 * so a 400 goes out unencoded. */
static bool parse_coding(const struct jg_query *q, struct jg_plan *p)
{
    enum jg_coding enc = q->gzip ? JG_ENC_GZIP : JG_ENC_NONE;
    unsigned window = 0;

    if (q->enc && !jg_enc_parse(q->enc, &enc))
        return bad_param(p, "enc");
    if (q->zwindow.set) {
        if (q->zwindow.v < 10 || q->zwindow.v > 41 || q->bwindow.set ||
            (q->enc && enc != JG_ENC_ZSTD))
            return bad_param(p, "zwindow");
        enc = JG_ENC_ZSTD;
        window = (unsigned)q->zwindow.v;
    }
    if (q->bwindow.set) {
        if (q->bwindow.v < 10 || q->bwindow.v > 24 ||
            (q->enc && enc != JG_ENC_BR))
            return bad_param(p, "bwindow");
        enc = JG_ENC_BR;
        window = (unsigned)q->bwindow.v;
    }
    p->enc = enc;
    p->enc_window = window;
    return true;
}

static bool parse_query(const struct http_req *req, struct jg_plan *p,
                        struct jg_query *q)
{
    p->scratch = malloc(req->query.n + 1);
    if (!p->scratch) {
        set_text(p, 500, "out of memory\n");
        return false;
    }
    if (!jg_query_parse(req->query, p->scratch, q))
        return bad_param(p, q->bad);
    if (!header_safe(q->location))
        return bad_param(p, "location");
    if (!header_safe(q->ctype))
        return bad_param(p, "ctype");
    if (!raw_safe(q->rawloc))
        return bad_param(p, "rawloc");
    if (!raw_safe(q->rawctype))
        return bad_param(p, "rawctype");
    if (!raw_safe(q->rawhdr))
        return bad_param(p, "rawhdr");
    if (!raw_safe(q->crange))
        return bad_param(p, "crange");
    if (q->range && strcmp(q->range, "ignore") != 0 && strcmp(q->range, "416") != 0)
        return bad_param(p, "range");
    if (q->status.set && (q->status.v < 200 || q->status.v > 599))
        return bad_param(p, "status");
    return parse_coding(q, p);
}

/* With several cut parameters the earliest one wins; on a tie the harsher
 * behaviour is kept. */
static void consider_cut(struct jg_plan *p, const struct jg_opt *o,
                         enum jg_cut how)
{
    if (o->set && (p->cut_how == JG_CUT_NONE || o->v < p->cut)) {
        p->cut = o->v;
        p->cut_how = how;
    }
}

static void apply_shaping(const struct jg_query *q, struct jg_plan *p)
{
    if (q->delay.set)
        p->delay_ms = q->delay.v;
    if (q->rate.set)
        p->rate = q->rate.v;
    if (q->ctype)
        p->ctype = q->ctype;
    if (q->rawctype)
        p->ctype = q->rawctype;
    p->rawhdr = q->rawhdr;
    p->chunked = q->chunked;
    p->endless = q->endless;
    if (q->headers.set) {
        p->junk_at = JG_JUNK_HEADERS;
        p->junk_limit = q->headers.v;
    } else if (q->trailers.set) {
        p->junk_at = JG_JUNK_TRAILERS;
        p->junk_limit = q->trailers.v;
    }
    p->clen.set = q->clen.set;
    p->clen.v = q->clen.v;
    consider_cut(p, &q->reset, JG_CUT_RESET);
    consider_cut(p, &q->shortn, JG_CUT_SHORT);
    consider_cut(p, &q->stall, JG_CUT_STALL);
}

static bool answer_failure(struct jg_failtab *fails, const struct http_req *req,
                           const struct jg_query *q, struct jg_plan *p)
{
    if (!q->fail.set || q->fail.v == 0)
        return false;
    uint64_t n = jg_failtab_bump(fails, req->target.p, req->target.n);
    if (n == 0) {
        set_text(p, 500, "out of memory\n");
        return true;
    }
    if (n > q->fail.v)
        return false;
    set_status_text(p, 503);
    p->retry_after.set = true;
    p->retry_after.v = q->retry_after.set ? q->retry_after.v : 1;
    return true;
}

/* Same target with one parameter changed; absolute when the client told us
 * which host it used, since that is what real servers send. */
static char *self_location(const struct http_req *req, const char *key,
                           uint64_t val)
{
    size_t cap = 7 + req->host.n + req->path.n + 1 + req->query.n + 32 + 1;
    char *loc = malloc(cap);
    size_t o = 0;

    if (!loc)
        return NULL;
    if (req->host.n) {
        memcpy(loc, "http://", 7);
        memcpy(loc + 7, req->host.p, req->host.n);
        o = 7 + req->host.n;
    }
    memcpy(loc + o, req->path.p, req->path.n);
    o += req->path.n;
    loc[o++] = '?';
    o += jg_query_replace(req->query, key, val, loc + o);
    loc[o] = 0;
    return loc;
}

static int redirect_status(const struct jg_query *q)
{
    if (q->status.set && q->status.v >= 300 && q->status.v <= 399)
        return (int)q->status.v;
    return 302;
}

static bool answer_redirect(const struct http_req *req,
                            const struct jg_query *q, struct jg_plan *p)
{
    if (q->rawloc)
        p->location = strdup(q->rawloc);
    else if (q->location)
        p->location = strdup(q->location);
    else if (q->loop.set && q->loop.v > 0)
        p->location = self_location(req, "loop", q->loop.v == 1 ? 2 : 1);
    else if (q->redirect.set && q->redirect.v > 0)
        p->location = self_location(req, "redirect", q->redirect.v - 1);
    else
        return false;
    if (!p->location)
        set_text(p, 500, "out of memory\n");
    else
        set_text(p, redirect_status(q), "redirecting\n");
    return true;
}

static bool answer_status(const struct jg_query *q, struct jg_plan *p)
{
    bool redirecting = q->rawloc || q->location || q->loop.set ||
                       q->redirect.set;

    /* With a redirect parameter a 3xx status only picks the redirect code,
     * so the end of a redirect=K chain is served normally. */
    if (!q->status.set || q->status.v == 200 ||
        (redirecting && q->status.v >= 300 && q->status.v <= 399))
        return false;
    set_status_text(p, (int)q->status.v);
    return true;
}


/* Parses a run of digits at *s (advancing it); false if none or overflow. */
static bool take_number(const char **s, const char *end, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;

    while (p < end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        p++;
    }
    if (p == *s)
        return false;
    *s = p;
    *out = v;
    return true;
}

static bool skip_literal(const char **s, const char *end, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(end - *s) < n || memcmp(*s, lit, n) != 0)
        return false;
    *s += n;
    return true;
}

/* Matches /cache/epub/<N>/pg<N>.txt, the Project Gutenberg mirror layout. */
static bool cache_book(struct jg_slice path, uint64_t *book)
{
    const char *s = path.p, *end = path.p + path.n;
    uint64_t a, b;

    return skip_literal(&s, end, CACHE_PREFIX) && take_number(&s, end, &a) &&
           skip_literal(&s, end, "/pg") && take_number(&s, end, &b) &&
           skip_literal(&s, end, ".txt") && s == end && a == b &&
           (*book = a, true);
}

/* Decodes the path for the file system; rejects what could escape root. */
static char *fs_path(struct jg_slice path, bool *bad)
{
    char *dec = malloc(path.n + 1);

    *bad = false;
    if (!dec)
        return NULL;
    size_t n = jg_pct_decode(path, dec, false);
    dec[n] = 0;
    if (memchr(dec, 0, n))
        *bad = true;
    for (char *seg = dec; !*bad && seg;) {
        char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        *bad = len == 2 && seg[0] == '.' && seg[1] == '.';
        seg = slash ? slash + 1 : NULL;
    }
    return dec;
}

/* 1: regular file opened, 0: nothing servable there, -1: bad path. */
static int open_file(const char *root, struct jg_slice path, struct jg_plan *p)
{
    bool bad;
    char *rel = fs_path(path, &bad);
    char *full;
    struct stat st;
    int fd = -1;

    if (!rel || bad) {
        free(rel);
        return bad ? -1 : 0;
    }
    /* O_NONBLOCK: opening a FIFO must not block the whole server. */
    if (asprintf(&full, "%s%s", root, rel) >= 0) {
        fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        free(full);
    }
    free(rel);
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        return 0;
    jg_body_file(&p->body, fd, (uint64_t)st.st_size);
    snprintf(p->etag, sizeof p->etag, "\"f%llx-%llx-%llx\"",
             (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtime);
    p->last_modified = st.st_mtime;
    return 1;
}

/* Generation G > 0 (SIGUSR1) makes every generated body another: book
 * N's text is then that of book N + G * 2^32, and the ETag says -gG. */
static void serve_generated(const struct jg_config *cfg,
                            const struct jg_query *q, uint64_t book,
                            struct jg_plan *p)
{
    uint64_t size = q->size.set ? q->size.v : cfg->book_size;
    uint64_t gen = cfg->generation;
    char suffix[32] = "";

    if (gen)
        snprintf(suffix, sizeof suffix, "-g%" PRIu64, gen);
    if (q->fill.set) {
        jg_body_fill(&p->body, q->fill.c, size);
        snprintf(p->etag, sizeof p->etag, "\"fill-%" PRIu64 "%s\"", size, suffix);
    } else {
        jg_body_book(&p->body, book + (gen << 32), size);
        snprintf(p->etag, sizeof p->etag, "\"%" PRIu64 "-%" PRIu64 "%s\"",
                 book, size, suffix);
    }
    p->last_modified = GENERATED_MTIME + (time_t)gen;
}

static void answer_content(const struct jg_config *cfg,
                           const struct http_req *req,
                           const struct jg_query *q, struct jg_plan *p)
{
    uint64_t book;
    int found = cfg->root ? open_file(cfg->root, req->path, p) : 0;

    if (found < 0)
        set_text(p, 400, "bad path\n");
    else if (found > 0)
        return;
    else if (cache_book(req->path, &book))
        serve_generated(cfg, q, book, p);
    else if (req->path.n > strlen(GEN_PREFIX) &&
             memcmp(req->path.p, GEN_PREFIX, strlen(GEN_PREFIX)) == 0)
        serve_generated(cfg, q, fnv1a(req->path.p, req->path.n), p);
    else if (q->fill.set)
        serve_generated(cfg, q, 0, p);
    else
        set_text(p, 404, "not found\n");
}

static struct jg_slice trim(struct jg_slice s)
{
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t'))
        s.p++, s.n--;
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

static bool etag_matches(struct jg_slice inm, const char *etag)
{
    while (inm.n) {
        const char *comma = memchr(inm.p, ',', inm.n);
        size_t n = comma ? (size_t)(comma - inm.p) : inm.n;
        struct jg_slice tag = trim(jg_slice_make(inm.p, n));

        if (tag.n >= 2 && memcmp(tag.p, "W/", 2) == 0)
            tag.p += 2, tag.n -= 2; /* If-None-Match uses weak comparison */
        if (jg_slice_eq(tag, "*") || jg_slice_eq(tag, etag))
            return true;
        inm.p += comma ? n + 1 : n;
        inm.n -= comma ? n + 1 : n;
    }
    return false;
}

static bool not_modified_since(struct jg_slice ims, time_t mtime)
{
    char buf[64];
    struct tm tm;

    if (ims.n >= sizeof buf)
        return false;
    memcpy(buf, ims.p, ims.n);
    buf[ims.n] = 0;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return end && *end == 0 && timegm(&tm) >= mtime;
}

/* RFC 9110 13.2.2: If-Modified-Since only counts without If-None-Match. */
static void apply_conditional(const struct http_req *req, struct jg_plan *p)
{
    bool match;

    if (p->status != 200 || !p->etag[0])
        return;
    if (req->if_none_match.p)
        match = etag_matches(req->if_none_match, p->etag);
    else
        match = req->if_modified_since.p && p->last_modified &&
                not_modified_since(req->if_modified_since, p->last_modified);
    if (match) {
        jg_body_release(&p->body);
        p->status = 304;
    }
}

/* "bytes=FIRST-", "bytes=FIRST-LAST" or "bytes=-SUFFIX", one range only
 * (RFC 9110 14.1.2).  0: none to serve (malformed, or several: the whole
 * body), 1: bytes [*first, *last] of `size`, -1: none of them exists. */
static int parse_byte_range(struct jg_slice r, uint64_t size, uint64_t *first,
                            uint64_t *last)
{
    const char *s = r.p, *end = r.p + r.n;
    uint64_t a = 0, b = UINT64_MAX;
    bool suffix;

    if (!skip_literal(&s, end, "bytes=") || memchr(s, ',', (size_t)(end - s)))
        return 0;
    suffix = s < end && *s == '-';
    if (!suffix && !take_number(&s, end, &a))
        return 0;
    if (!skip_literal(&s, end, "-"))
        return 0;
    if (s < end && !take_number(&s, end, &b))
        return 0;
    if (s != end || (suffix && b == UINT64_MAX) || (!suffix && b < a))
        return 0;
    if (suffix) {
        if (b == 0)
            return -1;
        a = b >= size ? 0 : size - b;
        b = size ? size - 1 : 0;
    }
    if (a >= size)
        return -1;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 1;
}

/* If-Range: an entity tag must match ours strongly, a date exactly
 * (RFC 9110 13.1.5); otherwise the whole body is sent. */
static bool if_range_holds(struct jg_slice v, const struct jg_plan *p)
{
    char buf[64];
    struct tm tm;

    v = trim(v);
    if (v.n && (v.p[0] == '"' || v.p[0] == 'W'))
        return jg_slice_eq(v, p->etag);
    if (!p->last_modified || v.n >= sizeof buf)
        return false;
    memcpy(buf, v.p, v.n);
    buf[v.n] = 0;
    memset(&tm, 0, sizeof tm);
    const char *e = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return e && *e == 0 && timegm(&tm) == p->last_modified;
}

/* Range on a 200 of identity bytes: a 206 of the bytes asked for, or a
 * 416; with range=ignore never, with range=416 always a 416.  A cut
 * (reset=, short=, stall=) stays at its place in the whole body. */
static void apply_range(const struct http_req *req, const struct jg_query *q,
                        struct jg_plan *p)
{
    uint64_t first, last, size = p->body.size;

    if (p->status != 200 || !req->range.p || p->enc != JG_ENC_NONE ||
        p->endless || (q->range && strcmp(q->range, "ignore") == 0))
        return;
    int r = parse_byte_range(req->range, size, &first, &last);
    if (r == 0 || (req->if_range.p && !if_range_holds(req->if_range, p)))
        return;
    if (r < 0 || (q->range && strcmp(q->range, "416") == 0)) {
        jg_body_release(&p->body);
        set_text(p, 416, "range not satisfiable\n");
        snprintf(p->content_range, sizeof p->content_range,
                 "bytes */%" PRIu64, size);
        p->cut_how = JG_CUT_NONE;
        return;
    }
    p->status = 206;
    jg_body_window(&p->body, first, last - first + 1);
    snprintf(p->content_range, sizeof p->content_range,
             "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, size);
    p->raw_crange = q->crange;
    if (p->cut_how != JG_CUT_NONE && p->cut > first)
        p->cut -= first;
    else
        p->cut_how = JG_CUT_NONE;
}

bool jg_status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 205 && status != 304;
}

/* endless=1: whatever the route chose (a book, a file, an error page, a
 * redirect's text) gives way to generated content that never ends: the
 * fill= byte, else the text of the same book (0 if none) going on for
 * ever.  Generated content is reproducible at any offset, so nothing
 * grows while it is served. */
static void make_endless(const struct jg_query *q, struct jg_plan *p)
{
    uint64_t book = p->body.kind == JG_BODY_BOOK ? p->body.book : 0;

    if (q->fill.set)
        jg_body_fill(&p->body, q->fill.c, UINT64_MAX);
    else
        jg_body_book(&p->body, book, UINT64_MAX);
}

static void finish(const struct http_req *req, bool head, struct jg_plan *p)
{
    if (!jg_status_has_body(p->status)) {
        p->enc = JG_ENC_NONE;
        p->chunked = p->endless = false;
    }
    p->no_body = head || !jg_status_has_body(p->status);
    if (p->enc != JG_ENC_NONE || p->chunked || p->endless ||
        p->junk_at == JG_JUNK_TRAILERS)
        p->framing = req->minor >= 1 ? JG_FRAME_CHUNKED : JG_FRAME_CLOSE;
    else
        p->framing = JG_FRAME_LENGTH;
    /* Trailers only exist after a last-chunk. */
    if (p->junk_at == JG_JUNK_TRAILERS &&
        (p->no_body || p->framing != JG_FRAME_CHUNKED))
        p->junk_at = JG_JUNK_NONE;
    /* An unparsed request body (chunked upload) would be read as the next
     * request, so such connections are not reused; nor are those whose
     * announced length may be a lie, or that never reach their end. */
    p->close = p->framing == JG_FRAME_CLOSE || !req->keep_alive ||
               req->chunked_body || p->clen.set ||
               (p->endless && !p->no_body) || p->junk_at != JG_JUNK_NONE;
}

/* --route: the query a request for this path without one gets. */
static const char *alias_query(const struct jg_config *cfg,
                               const struct http_req *req)
{
    for (unsigned i = 0; i < cfg->n_routes && req->query.n == 0; i++) {
        const struct jg_route_alias *a = &cfg->routes[i];
        if (req->path.n == a->path_len && memcmp(req->path.p, a->spec, a->path_len) == 0)
            return a->spec + a->path_len + 1;
    }
    return NULL;
}

void jg_route(const struct jg_config *cfg, struct jg_failtab *fails,
              const struct http_req *sent, struct jg_plan *p)
{
    struct jg_query q;
    struct http_req aliased;
    const struct http_req *req = sent;
    const char *query = alias_query(cfg, sent);

    if (query) {
        aliased = *sent;
        aliased.query = jg_slice_make(query, strlen(query));
        req = &aliased;
    }
    bool head = jg_slice_eq(req->method, "HEAD");

    set_defaults(cfg, p);
    if (!head && !jg_slice_eq(req->method, "GET")) {
        set_text(p, 501, "method not implemented\n");
    } else if (parse_query(req, p, &q)) {
        apply_shaping(&q, p);
        if (!answer_failure(fails, req, &q, p) &&
            !answer_redirect(req, &q, p) && !answer_status(&q, p)) {
            answer_content(cfg, req, &q, p);
            apply_conditional(req, p);
            apply_range(req, &q, p);
        }
        if (p->endless && jg_status_has_body(p->status))
            make_endless(&q, p);
    }
    finish(req, head, p);
}

void jg_route_error(const struct jg_config *cfg, int status,
                    struct jg_plan *p)
{
    set_defaults(cfg, p);
    switch (status) {
    case 431:
        set_text(p, status, "request header fields too large\n");
        break;
    case 505:
        set_text(p, status, "http version not supported\n");
        break;
    default:
        set_text(p, status, "bad request\n");
        break;
    }
    p->close = true;
}

void jg_plan_release(struct jg_plan *p)
{
    jg_body_release(&p->body);
    free(p->location);
    free(p->scratch);
    p->location = NULL;
    p->scratch = NULL;
}
