/*
 * The URL list: one URL per line, blank lines and '#' comment lines
 * skipped, surrounding white space trimmed, lines over JG_URL_MAX bytes
 * refused with their line number.
 */
#ifndef JG_INPUT_H
#define JG_INPUT_H

#include <stdio.h>

struct jg_input_sink {
	/* A candidate URL (trimmed, NUL-terminated) from `source`:`line`, and
	 * the file name the line gave it after a tab ("URL<TAB>NAME"), or NULL. */
	void (*url)(void *ctx, const char *source, unsigned long line, const char *text,
	            const char *name);
	/* A line that cannot be a URL, with the reason. */
	void (*error)(void *ctx, const char *source, unsigned long line, const char *why);
	void *ctx;
};

/* Reads every line of `fp`; returns the number of lines read. */
unsigned long jg_input_read(FILE *fp, const char *source, const struct jg_input_sink *sink);

/* Trims `s` in place (spaces, tabs, CR, LF); returns the start. */
char *jg_input_trim(char *s);

#endif
