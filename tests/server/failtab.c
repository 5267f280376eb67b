#include "failtab.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_CAP 64

struct entry {
    char *key; /* NULL: free slot */
    size_t len;
    uint64_t hash;
    uint64_t count;
};

/* Open addressing with linear probing: entries are never deleted, which is
 * what makes the simple scheme sufficient. */
struct jg_failtab {
    struct entry *slots;
    size_t cap; /* power of two */
    size_t used;
};


struct jg_failtab *jg_failtab_new(void)
{
    struct jg_failtab *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->slots = calloc(INITIAL_CAP, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    t->cap = INITIAL_CAP;
    return t;
}

void jg_failtab_free(struct jg_failtab *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].key);
    free(t->slots);
    free(t);
}

static struct entry *probe(struct entry *slots, size_t cap, uint64_t hash,
                           const char *key, size_t len)
{
    for (size_t i = hash & (cap - 1);; i = (i + 1) & (cap - 1)) {
        struct entry *e = &slots[i];
        if (!e->key || (e->hash == hash && e->len == len &&
                        memcmp(e->key, key, len) == 0))
            return e;
    }
}

static int grow(struct jg_failtab *t)
{
    size_t cap = t->cap * 2;
    struct entry *slots = calloc(cap, sizeof *slots);

    if (!slots)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        struct entry *e = &t->slots[i];
        if (e->key)
            *probe(slots, cap, e->hash, e->key, e->len) = *e;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

uint64_t jg_failtab_bump(struct jg_failtab *t, const char *key, size_t len)
{
    uint64_t hash = fnv1a(key, len);

    if ((t->used + 1) * 10 > t->cap * 7 && grow(t) < 0)
        return 0;
    struct entry *e = probe(t->slots, t->cap, hash, key, len);
    if (!e->key) {
        e->key = malloc(len ? len : 1);
        if (!e->key)
            return 0;
        memcpy(e->key, key, len);
        e->len = len;
        e->hash = hash;
        t->used++;
    }
    return ++e->count;
}
