/*
 * What the command line prints: every message goes through jg_say(), which
 * makes it safe for a terminal. Much of what juggle reports comes from
 * outside (URLs, a server's Location, a book's words, a manifest's
 * fields): a control byte in it could move the cursor, retitle the
 * window or forge a line of its own. So every control character but the
 * message's own last newline is escaped (\n, \t, \x1b, \u009b), and so is
 * every byte that is not part of well-formed UTF-8 (\xff).
 */
#ifndef JG_SAY_H
#define JG_SAY_H

#include <stdint.h>
#include <stdio.h>

/* printf to `f`, escaped as above. */
__attribute__((format(printf, 2, 3)))
void jg_say(FILE *f, const char *fmt, ...);

/*
 * The length of the well-formed UTF-8 sequence at `p` (NUL-terminated),
 * 0 when it is none: the Unicode standard's table 3-7. The JSON writer
 * replaces what is not one with U+FFFD.
 */
size_t jg_utf8_seq_len(const unsigned char *p);

/*
 * A copy of `s` in which the password of every "scheme://user:password@"
 * reads "***" (curl and wget hide them the same way): what juggle prints,
 * reports and journals never shows a secret a URL carried. The caller
 * frees it; NULL when memory ran out.
 */
char *jg_mask_secrets(const char *s);

/* `n` with thousands separated ("12,345"), in `buf`; returns buf. */
const char *jg_count_text(uint64_t n, char buf[32]);
/* "1 book", "2 books": `n` (separated) and the right form of the noun. */
const char *jg_count_of(uint64_t n, const char *one, const char *many, char buf[96]);

/* `s` escaped into `out` (`len` bytes, cut short if need be); returns out. */
const char *jg_escape(const char *s, char *out, size_t len);

#endif
