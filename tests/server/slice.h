/* A non-owning view of bytes; request fields stay in the input buffer. */
#ifndef JG_SLICE_H
#define JG_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

struct jg_slice {
    const char *p;
    size_t n;
};

static inline struct jg_slice jg_slice_make(const char *p, size_t n)
{
    struct jg_slice s = { p, n };
    return s;
}

static inline bool jg_slice_eq(struct jg_slice s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static inline bool jg_slice_eq_ci(struct jg_slice s, const char *lit)
{
    return s.n == strlen(lit) && strncasecmp(s.p, lit, s.n) == 0;
}

#endif
