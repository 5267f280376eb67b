/* FNV-1a, 64-bit: the test server's one string hash (fail counters, book
 * numbers of /gen/ paths). */
#ifndef JG_TS_HASH_H
#define JG_TS_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#endif
