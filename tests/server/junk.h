/* Header or trailer lines without end, "X-Junk-<n>: " and 100 bytes of
 * filler, for the headers= and trailers= behaviours: a client that keeps
 * every field it receives grows without bound unless it caps them.  The
 * generator holds one line, so any batch size works and nothing grows. */
#ifndef JG_JUNK_H
#define JG_JUNK_H

#include <stddef.h>
#include <stdint.h>

#define JG_JUNK_LINE_CAP 160

struct jg_junk {
    uint64_t line;        /* lines started, numbered from 1 */
    uint64_t sent;        /* bytes handed out */
    size_t len, off;      /* the current line is buf[0, len), off sent */
    char buf[JG_JUNK_LINE_CAP];
};

/* Writes the next n bytes of the endless sequence of lines into dst (a
 * line may be cut between two calls). */
void jg_junk_fill(struct jg_junk *j, char *dst, size_t n);

#endif
