/*
 * Transfer engines behind one set of operations, as redis's ae.c keeps
 * its polling backends: jg_fetch sets a transfer up (easy handle, headers,
 * body, decoders) the same way for every engine and hands it to the
 * engine it was given, which runs it and reports it back through
 * jg_fetch's `done` callback on the loop thread.
 *
 *   jg_engine_multi    curl's multi socket interface on the libev loop
 *                      (fetch.c): juggle's own engine
 *   jg_engine_threads  blocking curl_easy_perform() on a pool of threads
 *                      (fetch_threads.c): the baseline it is compared with;
 *                      the serial engine is this with one thread
 */
#ifndef JG_ENGINE_H
#define JG_ENGINE_H

#include <stddef.h>

struct jg_fetch;
struct jg_transfer;

struct jg_engine_ops {
	const char *name;
	/* Sets the engine up for `f` (`threads`: its limit). 0, or -1 with `why`. */
	int (*init)(struct jg_fetch *f, unsigned threads, char *why, size_t why_len);
	/* Stops it; every transfer must have been cancelled or finished. */
	void (*fini)(struct jg_fetch *f);
	/* Runs a configured transfer. 0, or -1 with t->errbuf filled, `t`
	 * still owning its handle. */
	int (*start)(struct jg_fetch *f, struct jg_transfer *t);
	/* Forgets a transfer in flight and releases it; its callback never fires. */
	void (*cancel)(struct jg_transfer *t);
	/* Threads started so far (0 for the loop). */
	unsigned (*threads_started)(const struct jg_fetch *f);
};

extern const struct jg_engine_ops jg_engine_multi;
extern const struct jg_engine_ops jg_engine_threads;

#endif
