#include "body.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bookgen.h"

static void reset(struct jg_body *b, enum jg_body_kind kind, uint64_t size)
{
    jg_body_release(b);
    b->kind = kind;
    b->size = b->whole = size;
    b->skip = 0;
}

void jg_body_window(struct jg_body *b, uint64_t first, uint64_t len)
{
    b->skip = first;
    b->size = len;
}

void jg_body_text(struct jg_body *b, const char *text)
{
    size_t n = strlen(text);

    if (n >= sizeof b->text)
        n = sizeof b->text - 1;
    reset(b, JG_BODY_TEXT, n);
    memcpy(b->text, text, n);
    b->text[n] = 0;
}

void jg_body_book(struct jg_body *b, uint64_t book, uint64_t size)
{
    reset(b, JG_BODY_BOOK, size);
    b->book = book;
}

void jg_body_fill(struct jg_body *b, char byte, uint64_t size)
{
    reset(b, JG_BODY_FILL, size);
    b->fill = byte;
}

void jg_body_file(struct jg_body *b, int fd, uint64_t size)
{
    reset(b, JG_BODY_FILE, size);
    b->fd = fd;
}

static ssize_t file_read(const struct jg_body *b, uint64_t off, char *dst,
                         size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = pread(b->fd, dst + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1; /* the size promised in Content-Length is gone */
        done += (size_t)r;
    }
    return (ssize_t)done;
}

ssize_t jg_body_read(const struct jg_body *b, uint64_t off, char *dst,
                     size_t n)
{
    if (off >= b->size)
        return 0;
    if (n > b->size - off)
        n = (size_t)(b->size - off);
    uint64_t at = b->skip + off;
    switch (b->kind) {
    case JG_BODY_TEXT:
        memcpy(dst, b->text + at, n);
        return (ssize_t)n;
    case JG_BODY_FILE:
        return file_read(b, at, dst, n);
    case JG_BODY_BOOK:
        return (ssize_t)jg_bookgen_read(b->book, b->whole, at, dst, n);
    case JG_BODY_FILL:
        return (ssize_t)jg_bookgen_fill_read(b->fill, b->whole, at, dst, n);
    }
    return -1;
}

void jg_body_release(struct jg_body *b)
{
    if (b->kind == JG_BODY_FILE && b->fd >= 0)
        close(b->fd);
    b->kind = JG_BODY_TEXT;
    b->fd = -1;
    b->size = b->whole = b->skip = 0;
    b->text[0] = 0;
}
