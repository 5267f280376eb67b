/*
 * The live progress line on a terminal. It is a view only: the run feeds
 * it the figures (progress_update) from its own timer, and anything that
 * prints another line clears it first (progress_clear).
 *
 *   [12/60] 3.1/7.9+ MiB  786.6 KiB/s  ETA 0:06  8 active, 2 waiting, 1 failed
 *
 * Books ended of those accepted; body bytes received of those known to
 * come (`+`: more will, of books whose size nobody has said yet; `?`: no
 * book left has said it); the rate over the last PROGRESS_RATE_SECONDS;
 * the time the known bytes left take at that rate, shown only when every
 * book left has said its size; transfers in flight, books waiting to
 * retry, books failed. The line is cut to the terminal's width, by whole
 * fields.
 *
 * Drawing: a frame is a carriage return, an erase of the line (ESC [ K),
 * the text and a carriage return: the cursor waits at the start of the
 * line, never in the last column. The width is read from the terminal
 * (TIOCGWINSZ) at each frame, and SIGWINCH redraws at once. A terminal
 * that rewraps its lines when it narrows (tmux, VTE, kitty) turns the
 * frame on screen into several rows from the cursor down; the first erase
 * after a narrowing is to the end of the screen (ESC [ J), which takes
 * them all, where a cursor left at the end of the frame would sit on its
 * last row and leave the others behind. With TERM=dumb (or no TERM) no
 * escape is written: a frame is a carriage return, the text, spaces over
 * what the last frame had beyond it, and a carriage return.
 */
#ifndef JG_CLI_PROGRESS_H
#define JG_CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rate_window.h"

/* The current rate is over this many seconds. */
#define PROGRESS_RATE_SECONDS 5.0
/* Columns assumed when the terminal does not say. */
enum { PROGRESS_DEFAULT_WIDTH = 80 };

struct progress_figures {
	uint64_t done, total;      /* books ended, books accepted */
	uint64_t bytes;            /* body bytes received (as sent: before decoding) */
	uint64_t expected;         /* bytes still to come by the lengths transfers gave */
	uint64_t unsized;          /* books left whose size is not known: queued,
	                              waiting, or in flight without a length */
	uint64_t active, waiting, failed;
};

struct progress {
	FILE *out;                 /* stderr */
	int shown;                 /* drawn at all: stderr is a terminal, not -q */
	int plain;                 /* TERM=dumb: carriage returns only */
	unsigned width;            /* the terminal's columns */
	int follows_terminal;      /* width read from stderr at each frame */
	int rewrapped;             /* it narrowed since the last erase */
	size_t drawn;              /* columns of the frame on screen; 0: none */
	int have_figures;
	struct progress_figures last; /* for a redraw at a new width */
	struct rate_window rate;
};

/* Shown when stderr is a terminal and not `quiet`; `now` (seconds) starts
 * the rate's window, with nothing received. */
void progress_init(struct progress *p, int quiet, double now);
/* The same on `out`, shown, `plain` or not, `width` columns: for tests. */
void progress_init_on(struct progress *p, FILE *out, int plain, unsigned width, double now);
/* Samples the byte counter at `now` and draws the figures. */
void progress_update(struct progress *p, const struct progress_figures *f, double now);
/* The terminal changed size (SIGWINCH): re-reads it and redraws at once. */
void progress_resized(struct progress *p);
/* As progress_resized, to `width` columns (0: the default). */
void progress_set_width(struct progress *p, unsigned width);
/* Erases the line, before a line of another kind; nothing if not drawn. */
void progress_clear(struct progress *p);
/* Erases it for good: nothing is drawn after. */
void progress_end(struct progress *p);

/*
 * The pure parts, for the tests.
 *
 * The line for `f` at `rate` bytes/s (< 0: not known yet) in at most
 * `columns` columns (and len - 1 bytes): whole fields, as many as fit in
 * order (single spaces between them when that fits more), the first cut
 * if even it does not. Returns its length.
 */
size_t progress_format(const struct progress_figures *f, double rate, size_t columns, char *out,
                       size_t len);
/* Seconds until the known bytes are in at `rate`; -1 when that cannot be
 * known: a book left has not said its size, or nothing moves. */
double progress_eta(const struct progress_figures *f, double rate);
/* "12.3 MiB" */
void progress_human_bytes(double b, char *out, size_t len);

#endif
