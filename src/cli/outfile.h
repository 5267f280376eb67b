/*
 * A result file the user named (--json, --counts, --failed): written in a
 * temporary file beside it and renamed over it once whole, so a reader
 * never sees half of one; or, for "-", standard output, as curl and wget
 * take it.
 */
#ifndef JG_CLI_OUTFILE_H
#define JG_CLI_OUTFILE_H

#include <stdio.h>

struct outfile {
	FILE *f;          /* NULL: none asked for */
	char *path;       /* as the user gave it */
	char *temp;       /* NULL for stdout */
	const char *what; /* the option, for messages: "--json" */
};

/*
 * Opens `path` ("-": stdout; NULL: none) for `what`. 0, or -1 after
 * printing why, naming the user's path.
 */
int outfile_open(struct outfile *o, const char *what, const char *path);
/* Completes the file: flushed, renamed over `path`. 0, or -1 after
 * printing why. */
int outfile_commit(struct outfile *o);
/* Frees it; a file not committed is dropped (its temporary file). */
void outfile_close(struct outfile *o);

#endif
