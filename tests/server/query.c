#include "query.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define KEY_CAP 32
#define NUM_CAP 32

/* K_COUNT: a number, or "endless" for UINT64_MAX. */
enum kind { K_U64, K_COUNT, K_BOOL, K_CHAR, K_STR };

struct spec {
    const char *name;
    enum kind kind;
    size_t off;
};

#define SPEC(name, kind, field) { name, kind, offsetof(struct jg_query, field) }

static const struct spec specs[] = {
    SPEC("size", K_U64, size),
    SPEC("status", K_U64, status),
    SPEC("delay", K_U64, delay),
    SPEC("rate", K_U64, rate),
    SPEC("reset", K_U64, reset),
    SPEC("short", K_U64, shortn),
    SPEC("stall", K_U64, stall),
    SPEC("redirect", K_U64, redirect),
    SPEC("loop", K_U64, loop),
    SPEC("fail", K_U64, fail),
    SPEC("retry_after", K_U64, retry_after),
    SPEC("clen", K_U64, clen),
    SPEC("zwindow", K_U64, zwindow),
    SPEC("bwindow", K_U64, bwindow),
    SPEC("headers", K_COUNT, headers),
    SPEC("trailers", K_COUNT, trailers),
    SPEC("gzip", K_BOOL, gzip),
    SPEC("chunked", K_BOOL, chunked),
    SPEC("endless", K_BOOL, endless),
    SPEC("fill", K_CHAR, fill),
    SPEC("location", K_STR, location),
    SPEC("rawloc", K_STR, rawloc),
    SPEC("ctype", K_STR, ctype),
    SPEC("rawctype", K_STR, rawctype),
    SPEC("rawhdr", K_STR, rawhdr),
    SPEC("enc", K_STR, enc),
    SPEC("range", K_STR, range),
    SPEC("crange", K_STR, crange),
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t jg_pct_decode(struct jg_slice s, char *out, bool plus_space)
{
    size_t o = 0;

    for (size_t i = 0; i < s.n; i++) {
        int hi, lo;
        if (s.p[i] == '%' && i + 2 < s.n && (hi = hexval(s.p[i + 1])) >= 0 &&
            (lo = hexval(s.p[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s.p[i] == '+' && plus_space) {
            out[o++] = ' ';
        } else {
            out[o++] = s.p[i];
        }
    }
    return o;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_bool(const char *s)
{
    return *s && strcmp(s, "0") != 0 && strcasecmp(s, "false") != 0 &&
           strcasecmp(s, "no") != 0;
}

/* Splits "k=v" (the '=' is optional). */
static void split_param(struct jg_slice p, struct jg_slice *k, struct jg_slice *v)
{
    const char *eq = memchr(p.p, '=', p.n);

    *k = jg_slice_make(p.p, eq ? (size_t)(eq - p.p) : p.n);
    *v = eq ? jg_slice_make(eq + 1, (size_t)(p.p + p.n - eq - 1))
            : jg_slice_make(p.p + p.n, 0);
}

static bool next_param(struct jg_slice *rest, struct jg_slice *param)
{
    while (rest->n) {
        const char *amp = memchr(rest->p, '&', rest->n);
        size_t n = amp ? (size_t)(amp - rest->p) : rest->n;

        *param = jg_slice_make(rest->p, n);
        rest->p += amp ? n + 1 : n;
        rest->n -= amp ? n + 1 : n;
        if (n)
            return true;
    }
    return false;
}

static bool decode_key(struct jg_slice k, char *buf)
{
    if (k.n >= KEY_CAP)
        return false;
    buf[jg_pct_decode(k, buf, true)] = 0;
    return true;
}

static const struct spec *find_spec(const char *key)
{
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        if (strcmp(specs[i].name, key) == 0)
            return &specs[i];
    return NULL;
}

/* val holds n decoded bytes (and a NUL after them). */
static bool store(const struct spec *sp, const char *val, size_t n,
                  struct jg_query *q)
{
    char *field = (char *)q + sp->off;

    switch (sp->kind) {
    case K_U64: {
        struct jg_opt *o = (struct jg_opt *)(void *)field;
        o->set = parse_u64(val, &o->v);
        return o->set;
    }
    case K_COUNT: {
        struct jg_opt *o = (struct jg_opt *)(void *)field;
        if (strcmp(val, "endless") == 0)
            o->v = UINT64_MAX, o->set = true;
        else
            o->set = parse_u64(val, &o->v);
        return o->set;
    }
    case K_BOOL:
        *(bool *)(void *)field = parse_bool(val);
        return true;
    case K_CHAR: {
        /* An empty value leaves it unset (book text); %00 is the byte 0. */
        struct jg_byte *b = (struct jg_byte *)(void *)field;
        if (n > 1)
            return false;
        b->c = val[0];
        b->set = n == 1;
        return true;
    }
    case K_STR:
        if (memchr(val, 0, n))
            return false;
        *(const char **)(void *)field = val;
        return true;
    }
    return false;
}

bool jg_query_parse(struct jg_slice q, char *scratch, struct jg_query *out)
{
    struct jg_slice rest = q, param, k, v;
    size_t used = 0;

    memset(out, 0, sizeof *out);
    while (next_param(&rest, &param)) {
        char key[KEY_CAP], num[NUM_CAP];
        split_param(param, &k, &v);
        const struct spec *sp = decode_key(k, key) ? find_spec(key) : NULL;
        if (!sp)
            continue;
        /* A value plus its NUL never outgrows "key=value" in the raw query,
         * so scratch of q.n + 1 bytes is always enough. */
        char *dst = sp->kind == K_STR ? scratch + used : num;
        if (sp->kind != K_STR && v.n >= NUM_CAP) {
            out->bad = sp->name;
            return false;
        }
        size_t n = jg_pct_decode(v, dst, true);
        dst[n] = 0;
        if (sp->kind == K_STR)
            used += n + 1;
        if (!store(sp, dst, n, out)) {
            out->bad = sp->name;
            return false;
        }
    }
    return true;
}

size_t jg_query_replace(struct jg_slice q, const char *key, uint64_t val,
                        char *out)
{
    struct jg_slice rest = q, param, k, v;
    size_t o = 0;

    while (next_param(&rest, &param)) {
        char name[KEY_CAP];
        split_param(param, &k, &v);
        if (o)
            out[o++] = '&';
        if (decode_key(k, name) && strcmp(name, key) == 0) {
            /* Values were validated by jg_query_parse, so the new value
             * is never longer than the old one; the 32 spare bytes are
             * only a margin. */
            o += (size_t)sprintf(out + o, "%s=%" PRIu64, key, val);
        } else {
            memcpy(out + o, param.p, param.n);
            o += param.n;
        }
    }
    return o;
}
