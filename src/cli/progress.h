/*
 * The live progress line on a terminal. It is a view only: the run feeds
 * it the figures (progress_draw) from its own timer, and anything that
 * prints another line clears it first (progress_clear).
 */
#ifndef JG_CLI_PROGRESS_H
#define JG_CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct progress {
	int shown;                 /* drawn at all: stderr is a terminal, not -q */
};

struct progress_figures {
	uint64_t done, total;      /* books ended, books accepted */
	uint64_t bytes;            /* body bytes received */
	uint64_t active, failed;
	double elapsed;            /* seconds since the run began */
};

void progress_init(struct progress *p, int quiet);
void progress_draw(const struct progress *p, const struct progress_figures *f);
/* Erases the line, before a line of another kind; nothing if not shown. */
void progress_clear(const struct progress *p);
/* Erases it for good: nothing is drawn after. */
void progress_end(struct progress *p);

/* "12.3 MiB" */
void progress_human_bytes(double b, char *out, size_t len);

#endif
