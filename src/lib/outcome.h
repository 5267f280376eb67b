/*
 * What became of one book: the one record each stage of its life fills
 * in. The job sets the attempts and the answer (status, validators, the
 * body's size); the hand-over to the pool carries it on and adds the
 * pool's answer (the counted figures). session.c's report() is the one
 * place it becomes the public struct jg_result.
 */
#ifndef JG_OUTCOME_H
#define JG_OUTCOME_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct jg_pool_result;

struct jg_outcome {
	int err;                   /* JG_OK or the kind of failure */
	const char *error;         /* the reason, NULL: jg_strerror(err); borrowed */
	uint64_t bytes;            /* the body's, decoded; 0 on failure */
	unsigned attempts, redirects;
	long http_code;            /* the last status seen; 0 if none */
	double started;            /* ev_now() at admission; 0: never admitted */
	int reused;                /* the file an earlier run saved was kept */
	uint64_t continued_from;   /* bytes a partial had when its rest was asked for */
	int stamped;               /* `mtime` is the saved file's, from fstat() on
	                              the descriptor that wrote it */
	struct timespec mtime;
	/*
	 * Owned by whoever holds the outcome (jg_outcome_fini frees them: a
	 * job's, a hand-over's); an outcome made on the spot for a report
	 * borrows them instead and is never finished.
	 */
	const char *final_url;     /* where redirects led; NULL without any */
	const char *etag, *last_modified, *content_type;
	/* The pool's answer, borrowed while it is reported; NULL: not counted. */
	const struct jg_pool_result *counted;
};

static inline void jg_outcome_fini(struct jg_outcome *o)
{
	free((void *)(uintptr_t)o->final_url);
	free((void *)(uintptr_t)o->etag);
	free((void *)(uintptr_t)o->last_modified);
	free((void *)(uintptr_t)o->content_type);
	o->final_url = o->etag = o->last_modified = o->content_type = NULL;
}

#endif
