/*
 * Which charset a book is written in, and its text as UTF-8.
 *
 * The decision, in this order:
 *   1. the charset the HTTP Content-Type names;
 *   2. else the book's own "Character set encoding:" line, if one starts
 *      a line within its first JG_CHARSET_SNIFF bytes (Project Gutenberg
 *      files carry one);
 *   3. else, detected: UTF-16 by its byte order mark; UTF-8 when the
 *      whole body is valid UTF-8 (a byte order mark skipped: validity is
 *      judged on every byte, since some books are plain ASCII for their
 *      first 200 KB); else Windows-1252.
 * Latin-1 and ASCII labels are read as Windows-1252, their superset, as
 * browsers do (WHATWG Encoding); its five unassigned bytes become the C1
 * controls of the same value. Other names go to iconv; a name it does not
 * know is passed over for the next step, and the note says so.
 *
 * The text handed back is always valid UTF-8: a sequence that is not
 * becomes U+FFFD, one per maximal invalid subpart (the Unicode standard's
 * recommended practice, which Python's "replace" also follows).
 */
#ifndef JG_CHARSET_H
#define JG_CHARSET_H

#include <stddef.h>

/* How far into a book its "Character set encoding:" line is looked for. */
#define JG_CHARSET_SNIFF 8192
/* Longest charset name taken from a header or a book. */
#define JG_CHARSET_NAME_MAX 40

enum jg_charset_from {
	JG_CHARSET_FROM_HTTP = 1,     /* the Content-Type's charset */
	JG_CHARSET_FROM_BOOK = 2,     /* the book's "Character set encoding:" */
	JG_CHARSET_FROM_DETECTED = 3, /* byte order mark, UTF-8 validity */
};

struct jg_text {
	const char *text;             /* UTF-8, no byte order mark */
	size_t len;
	char *owned;                  /* a converted copy, or NULL: `text`
	                                 points into the body given */
	void *converter;              /* an iconv_t while it converts */
	char charset[JG_CHARSET_NAME_MAX + 1]; /* "utf-8", "windows-1252", ... */
	enum jg_charset_from from;
	char note[200];               /* why a named charset was passed over */
};

/*
 * Decides the charset of `body` (`http_charset`: the Content-Type's
 * charset parameter, NULL or "" when none) and makes its UTF-8 text.
 * 0, or -1 when out of memory. Free with jg_text_fini().
 */
int jg_text_decode(const char *body, size_t len, const char *http_charset, struct jg_text *out);
void jg_text_fini(struct jg_text *t);

/* "http", "book", "detected". */
const char *jg_charset_from_name(enum jg_charset_from from);

/*
 * The charset parameter of a Content-Type value into `out` (at least
 * JG_CHARSET_NAME_MAX + 1 bytes), unquoted; "" when there is none or it
 * is too long to be a charset name.
 */
void jg_content_type_charset(const char *content_type, char *out);
/* Whether a Content-Type value is text/html (or XHTML). */
int jg_content_type_is_html(const char *content_type);

/* 1 when `p` holds only well-formed UTF-8. */
int jg_utf8_valid(const char *p, size_t len);

#endif
