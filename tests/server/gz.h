/* Streaming gzip encoder over a body source: memory stays bounded however
 * large the decoded body is (gzip bombs of gigabytes are a test case). */
#ifndef JG_GZ_H
#define JG_GZ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "body.h"

struct jg_gz;

/* level as for deflateInit2(). */
struct jg_gz *jg_gz_new(int level);
void jg_gz_free(struct jg_gz *g);

/* Writes up to n bytes of gzip output into dst.  May return 0 without
 * reaching the end when the input consumed so far compressed to nothing
 * yet: the work per call is bounded so one connection cannot monopolise
 * the loop.  *eof is set once the gzip trailer has been written.  Returns -1
 * on a source or zlib error. */
ssize_t jg_gz_produce(struct jg_gz *g, const struct jg_body *src, char *dst,
                      size_t n, bool *eof);

#endif
