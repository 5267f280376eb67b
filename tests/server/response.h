/* Response head (status line + header fields) rendering. */
#ifndef JG_RESPONSE_H
#define JG_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "route.h"

const char *jg_reason(int status);

/* Formats an HTTP date into buf (at least 30 bytes). */
void jg_http_date(time_t t, char *buf, size_t cap);

/* Returns a malloc'd head for plan (NULL on allocation failure).  date is
 * the preformatted Date value; keep_alive selects the Connection header. */
char *jg_head_render(const struct jg_plan *p, const char *date,
                     bool keep_alive, size_t *len);

#endif
