/* Content codings of response bodies (gzip, deflate, br, zstd), encoded on
 * the fly over a body source.  Memory stays bounded however large the
 * decoded body is: compression bombs of gigabytes and endless bodies are
 * test cases, so nothing here ever holds a whole body. */
#ifndef JG_ENC_H
#define JG_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "body.h"

enum jg_coding {
    JG_ENC_NONE,
    JG_ENC_GZIP,     /* RFC 1952 */
    JG_ENC_DEFLATE,  /* HTTP's "deflate": the zlib format, RFC 1950 */
    JG_ENC_BR,       /* RFC 7932 */
    JG_ENC_ZSTD,     /* RFC 8878 */
};

struct jg_enc;

/* Parses a Content-Encoding token; false if it is none of the four. */
bool jg_enc_parse(const char *name, enum jg_coding *out);
/* The Content-Encoding token (NULL for JG_ENC_NONE). */
const char *jg_enc_name(enum jg_coding c);

/* window: log2 of the window the stream must declare (br: 10..24, zstd:
 * 10..41), or 0 for the encoder's own.  src must outlive the encoder and
 * is the source every jg_enc_produce() call reads.  NULL on allocation
 * failure. */
struct jg_enc *jg_enc_new(enum jg_coding c, unsigned window,
                          const struct jg_body *src);
void jg_enc_free(struct jg_enc *e);

/* Writes up to n bytes of encoded output into dst.  May return 0 without
 * reaching the end when the input consumed so far compressed to nothing
 * yet: the work per call is bounded so one connection cannot monopolise
 * the loop.  *eof is set once the stream's end has been written.  Returns
 * -1 on a source or encoder error. */
ssize_t jg_enc_produce(struct jg_enc *e, char *dst, size_t n, bool *eof);

#endif
