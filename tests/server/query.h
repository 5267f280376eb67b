/* Query-string parameters that script the server's behaviour. */
#ifndef JG_QUERY_H
#define JG_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slice.h"

struct jg_opt {
    uint64_t v;
    bool set;
};

/* A single byte, which may be NUL. */
struct jg_byte {
    char c;
    bool set;
};

struct jg_query {
    struct jg_opt size, status, delay, rate, reset, shortn, stall;
    struct jg_opt redirect, loop, fail, retry_after;
    struct jg_opt clen, zwindow, bwindow;
    struct jg_opt headers, trailers;  /* bytes; UINT64_MAX for "endless" */
    bool gzip;
    bool chunked;
    bool endless;
    struct jg_byte fill;    /* unset: book text */
    /* Strings are decoded, NUL terminated, in scratch; one holding a NUL
     * byte is malformed, since no header could carry it. */
    const char *location;
    const char *rawloc;
    const char *ctype;
    const char *rawctype;
    const char *rawhdr;
    const char *enc;
    const char *range;      /* "ignore" or "416": how a Range is answered */
    const char *crange;     /* raw Content-Range of a 206 (hostile) */
    const char *bad;        /* name of the first malformed parameter */
};

/* Percent-decodes s into out (which needs s.n bytes).  '+' becomes a space
 * when plus_space, as HTML forms and Python's urlencode produce it.
 * Malformed escapes are kept literally. */
size_t jg_pct_decode(struct jg_slice s, char *out, bool plus_space);

/* Parses the raw query.  String values are decoded into scratch, which must
 * hold q.n + 1 bytes and outlive the result.  Unknown keys are ignored;
 * returns false (and sets ->bad) on a malformed value. */
bool jg_query_parse(struct jg_slice q, char *scratch, struct jg_query *out);

/* Copies q to out with every `key` parameter's value replaced by val, other
 * parameters kept byte for byte.  out needs q.n + 32 bytes.  Returns the
 * length written. */
size_t jg_query_replace(struct jg_slice q, const char *key, uint64_t val,
                        char *out);

#endif
