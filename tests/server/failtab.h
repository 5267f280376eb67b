/* Per-request-target counters for the fail=K parameter: the server must
 * remember how often each exact target has been asked for. */
#ifndef JG_FAILTAB_H
#define JG_FAILTAB_H

#include <stddef.h>
#include <stdint.h>

struct jg_failtab;

struct jg_failtab *jg_failtab_new(void);
void jg_failtab_free(struct jg_failtab *t);

/* Counts one more request for key and returns the new count (1 for the
 * first one), or 0 if memory ran out. */
uint64_t jg_failtab_bump(struct jg_failtab *t, const char *key, size_t len);

#endif
