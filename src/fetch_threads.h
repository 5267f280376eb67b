/*
 * The threads engine: the baseline juggle is compared against. Each
 * transfer runs in a blocking curl_easy_perform() on one of a pool of
 * threads, the C analogue of a ThreadPoolExecutor; the finished transfer
 * travels back to the loop thread through an ev_async, where jg_fetch's
 * `done` callback sees it exactly as it sees one of the loop engine's.
 *
 * Only the thread touches a transfer in flight: it works on a copy of its
 * own (struct jg_task), so cancelling never waits for the thread.
 */
#ifndef JG_FETCH_THREADS_H
#define JG_FETCH_THREADS_H

#include "fetch.h"

/* 0, or -1 with `why` filled. Threads start as work arrives. */
int jg_threads_init(struct jg_fetch *f, unsigned max_threads, char *why, size_t why_len);
/* Stops and joins the threads; every transfer must have been cancelled
 * or finished. A thread inside curl notices within about a second. */
void jg_threads_fini(struct jg_fetch *f);
/*
 * Hands a configured transfer (easy handle set up, callbacks pointing at
 * `t`) to a thread. 0, or -1 with t->errbuf filled when no thread could
 * run it; `t` then still owns its handle.
 */
int jg_threads_submit(struct jg_fetch *f, struct jg_transfer *t);
/* Forgets a transfer in flight: its thread finishes or aborts it unseen. */
void jg_threads_cancel(struct jg_transfer *t);
/* Threads started so far. */
unsigned jg_threads_started(const struct jg_fetch *f);

#endif
