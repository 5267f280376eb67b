/*
 * One attempt's response heads, line by line as libcurl's header callback
 * hands them over: the status of each response (1xx ones come before the
 * last), the end of the final head, the body's content coding, and the
 * bytes of every header and trailer line. libcurl keeps every trailer (it
 * has no limit on them), so a server that never ends its trailers would
 * take all memory: past JG_HEAD_BYTES_MAX the attempt is stopped.
 */
#ifndef JG_HEAD_H
#define JG_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"

/* Header and trailer bytes one attempt may receive, all responses told. */
#define JG_HEAD_BYTES_MAX (256u * 1024)

struct jg_head {
	uint64_t bytes;            /* header and trailer bytes so far */
	long status;               /* of the latest status line; 0 before one */
	int ended;                 /* the final (non-1xx) head is complete */
	enum jg_coding coding;     /* its Content-Encoding */
	int bad_coding;            /* one juggle cannot undo: name in `coding_name` */
	char coding_name[48];
};

enum jg_head_event {
	JG_HEAD_LINE,              /* a line taken; nothing more to do */
	JG_HEAD_END,               /* the final head just ended: the body follows */
	JG_HEAD_TOO_LONG,          /* over JG_HEAD_BYTES_MAX: stop the attempt */
};

void jg_head_init(struct jg_head *h);
/*
 * When `line` is the header `name` ("location:": lower case, with its
 * colon), its value without the blanks around it and the line's end:
 * 1 and `*value` (inside `line`, not NUL-terminated), `*value_len`; else 0.
 */
int jg_head_value(const char *line, size_t len, const char *name, const char **value,
                  size_t *value_len);
/* Takes one line (its CRLF included, as libcurl gives it). */
enum jg_head_event jg_head_line(struct jg_head *h, const char *line, size_t len);

#endif
