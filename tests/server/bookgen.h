/* Deterministic generator of Project-Gutenberg-like plain text.
 *
 * A book is identified by a number and a total size.  Any byte range can be
 * produced without generating what precedes it, so a server can serve huge
 * books and tests can recompute the expected content of any download.
 *
 * Layout: header + middle + footer.  The header and footer mimic the
 * Project Gutenberg boilerplate (CRLF line endings); the middle is made of
 * 4096-byte blocks of English-like text (LF line endings), each derived
 * only from (book, block index).  When size is smaller than header + footer
 * the book is the concatenation of both, truncated to size.
 */
#ifndef JG_BOOKGEN_H
#define JG_BOOKGEN_H

#include <stddef.h>
#include <stdint.h>

#define JG_BOOKGEN_BLOCK 4096

/* Copies bytes [offset, offset + n) of book `book` of total length `size`
 * into dst.  Returns the number of bytes written: less than n only at the
 * end of the book, 0 when offset >= size. */
size_t jg_bookgen_read(uint64_t book, uint64_t size, uint64_t offset,
                       char *dst, size_t n);

/* Same contract for a "book" whose bytes are all `byte` (used for
 * compression-bomb tests). */
size_t jg_bookgen_fill_read(char byte, uint64_t size, uint64_t offset,
                            char *dst, size_t n);

#endif
