/* JSON-lines request log, read by tests to check what the client did
 * (ordering, overlap, retries).  Times are CLOCK_MONOTONIC seconds, the
 * clock Python's time.monotonic() uses, so tests can compare them. */
#ifndef JG_REQLOG_H
#define JG_REQLOG_H

#include <stdint.h>

#include "http_req.h"

struct jg_reqlog;

/* Appends to path.  Returns NULL (errno set) if it cannot be opened. */
struct jg_reqlog *jg_reqlog_open(const char *path);
void jg_reqlog_close(struct jg_reqlog *log);

/* Both are no-ops when log is NULL. */
void jg_reqlog_start(struct jg_reqlog *log, uint64_t conn, unsigned req,
                     const struct http_req *r);
void jg_reqlog_end(struct jg_reqlog *log, uint64_t conn, unsigned req,
                   struct jg_slice target, int status, uint64_t bytes,
                   const char *how);

/* {"ev":"generation","t":...,"n":N}: the generated bodies changed. */
void jg_reqlog_generation(struct jg_reqlog *log, uint64_t n);

#endif
