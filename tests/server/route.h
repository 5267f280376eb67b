/* Turns a parsed request into a response plan: status, headers, body
 * source and the misbehaviour (delay, throttling, cuts) to apply while
 * sending it.  Everything about "what to answer" lives here; "how to send
 * it" is the connection's business. */
#ifndef JG_ROUTE_H
#define JG_ROUTE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "body.h"
#include "config.h"
#include "enc.h"
#include "failtab.h"
#include "http_req.h"

enum jg_framing {
    JG_FRAME_LENGTH,   /* Content-Length */
    JG_FRAME_CHUNKED,
    JG_FRAME_CLOSE,    /* HTTP/1.0 client and unknown length: close ends it */
};

/* Where endless (or N-byte) junk field lines go: after the head's fields
 * (the blank line never comes), or after the last-chunk (the trailer
 * section never ends). */
enum jg_junk_at {
    JG_JUNK_NONE,
    JG_JUNK_HEADERS,
    JG_JUNK_TRAILERS,
};

enum jg_cut {
    JG_CUT_NONE,
    JG_CUT_RESET,      /* TCP RST */
    JG_CUT_SHORT,      /* clean close before the promised end */
    JG_CUT_STALL,      /* go silent, keep the connection open */
};

struct jg_plan {
    int status;
    struct jg_body body;
    bool no_body;          /* HEAD, 204, 205, 304 */
    enum jg_coding enc;
    unsigned enc_window;   /* log2 of the window to declare, 0: default */
    bool chunked;          /* chunked=1 asked for, even without enc */
    bool endless;          /* body.size is UINT64_MAX: it never ends */
    enum jg_framing framing;
    bool close;            /* connection cannot be reused afterwards */
    enum jg_junk_at junk_at;
    uint64_t junk_limit;   /* junk bytes before a clean close */
    struct { uint64_t v; bool set; } clen;  /* Content-Length to announce */
    const char *ctype;
    const char *rawhdr;    /* X-Raw value, in scratch; NULL if none */
    char *location;        /* owned, NULL if none */
    char etag[64];         /* empty if none */
    char content_range[96]; /* a 206's or 416's Content-Range; empty if none */
    const char *raw_crange; /* crange=: sent in its place (in scratch) */
    time_t last_modified;  /* 0 if none */
    struct { uint64_t v; bool set; } retry_after;
    uint64_t cut;          /* payload bytes before cut_how applies */
    enum jg_cut cut_how;
    uint64_t delay_ms;
    uint64_t rate;         /* payload bytes per second, 0: unlimited */
    char *scratch;         /* owned: decoded query strings */
};

/* Fills plan, which must be zeroed.  Never fails: problems become error
 * responses.  Release with jg_plan_release(). */
void jg_route(const struct jg_config *cfg, struct jg_failtab *fails,
              const struct http_req *req, struct jg_plan *plan);

/* Plan for a request whose head could not be parsed. */
void jg_route_error(const struct jg_config *cfg, int status,
                    struct jg_plan *plan);

void jg_plan_release(struct jg_plan *plan);

/* False for statuses whose responses never carry content (1xx, 204, 205,
 * 304): such heads must not announce a length either. */
bool jg_status_has_body(int status);

#endif
