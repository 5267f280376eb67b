/* Sources of (unencoded) response bodies, all readable at any offset so the
 * sender never has to hold a whole body in memory. */
#ifndef JG_BODY_H
#define JG_BODY_H

#include <stdint.h>
#include <sys/types.h>

#define JG_BODY_TEXT_CAP 96

enum jg_body_kind {
    JG_BODY_TEXT,  /* short message held inline */
    JG_BODY_FILE,
    JG_BODY_BOOK,
    JG_BODY_FILL,
};

struct jg_body {
    enum jg_body_kind kind;
    uint64_t size;         /* bytes served: the whole, or a range of it */
    uint64_t skip;         /* a range: where it starts in the whole */
    uint64_t whole;        /* the whole source's size */
    uint64_t book;
    int fd;
    char fill;
    char text[JG_BODY_TEXT_CAP];
};

void jg_body_text(struct jg_body *b, const char *text);
void jg_body_book(struct jg_body *b, uint64_t book, uint64_t size);
void jg_body_fill(struct jg_body *b, char byte, uint64_t size);
/* Takes ownership of fd. */
void jg_body_file(struct jg_body *b, int fd, uint64_t size);

/* Serves only bytes [first, first + len) of the whole (a range). */
void jg_body_window(struct jg_body *b, uint64_t first, uint64_t len);

/* Reads up to n bytes at off.  Returns the count (0 at the end), or -1 if
 * the source failed, e.g. a file shrank underneath us. */
ssize_t jg_body_read(const struct jg_body *b, uint64_t off, char *dst,
                     size_t n);

void jg_body_release(struct jg_body *b);

#endif
