#include "progress.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* A frame is at most this long, whatever the terminal's width. */
enum { LINE_MAX_BYTES = 512 };

static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};

/* The unit for `b`: the largest that leaves at least 1 of it. */
static int unit_of(double b)
{
	int i = 0;
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	return i;
}

static double in_unit(double b, int unit)
{
	for (int i = 0; i < unit; i++)
		b /= 1024;
	return b;
}

void progress_human_bytes(double b, char *out, size_t len)
{
	int i = unit_of(b);
	snprintf(out, len, i ? "%.1f %s" : "%.0f %s", in_unit(b, i), units[i]);
}

/*
 * "3.1/7.9 MiB" when every book left has said its size, "3.1/7.9+ MiB"
 * when some have not (the total will grow), "3.1/? MiB" when none of the
 * transfers in flight has anything more to say.
 */
static void bytes_field(const struct progress_figures *f, char *out, size_t len)
{
	uint64_t known = f->bytes + f->expected;
	int none_known = f->unsized && !f->expected;
	int u = unit_of((double)(none_known ? f->bytes : known));
	int decimals = u ? 1 : 0;
	char total[32] = "?";
	if (!none_known)
		snprintf(total, sizeof total, "%.*f", decimals, in_unit((double)known, u));
	snprintf(out, len, "%.*f/%s%s %s", decimals, in_unit((double)f->bytes, u), total,
	         f->unsized && !none_known ? "+" : "", units[u]);
}

double progress_eta(const struct progress_figures *f, double rate)
{
	if (f->unsized)
		return -1;
	if (f->expected == 0)
		return 0;
	if (!(rate > 0))
		return -1;
	return (double)f->expected / rate;
}

/* "4:05", "1:02:03"; nothing past 99 hours, which is no forecast. */
static int eta_field(double eta, char *out, size_t len)
{
	if (eta < 0 || eta >= 100 * 3600)
		return 0;
	long s = (long)(eta + 0.5);
	if (s >= 3600)
		snprintf(out, len, "ETA %ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, len, "ETA %ld:%02ld", s / 60, s % 60);
	return 1;
}

struct line {
	char *out;
	size_t used, room;         /* room: columns (and bytes) it may take */
	const char *gap;           /* between the groups of fields */
	unsigned fields;           /* put whole */
	int full;                  /* a field did not fit: none after it either */
};

/* Appends `sep` and `field` if both fit whole; the first field is cut. */
static void put_field(struct line *l, const char *sep, const char *field)
{
	if (l->full)
		return;
	if (l->used == 0)
		sep = "";
	size_t need = strlen(sep) + strlen(field);
	if (l->used + need > l->room) {
		l->full = 1;
		if (l->used > 0)
			return;
		need = l->room; /* not even the first: as much of it as fits */
	} else {
		l->fields++;
	}
	snprintf(l->out + l->used, need + 1, "%s%s", sep, field);
	l->used += need;
}

/* The fields in the order they matter: what fits of them. */
static void put_fields(struct line *l, const struct progress_figures *f, double rate)
{
	char field[64];
	snprintf(field, sizeof field, "[%" PRIu64 "/%" PRIu64 "]", f->done, f->total);
	put_field(l, "", field);
	bytes_field(f, field, sizeof field);
	put_field(l, " ", field);
	if (rate >= 0) {
		char speed[32];
		progress_human_bytes(rate, speed, sizeof speed);
		snprintf(field, sizeof field, "%s/s", speed);
		put_field(l, l->gap, field);
	}
	if (eta_field(progress_eta(f, rate), field, sizeof field))
		put_field(l, l->gap, field);
	snprintf(field, sizeof field, "%" PRIu64 " active", f->active);
	put_field(l, l->gap, field);
	if (f->waiting) {
		snprintf(field, sizeof field, "%" PRIu64 " waiting", f->waiting);
		put_field(l, ", ", field);
	}
	if (f->failed) {
		snprintf(field, sizeof field, "%" PRIu64 " failed", f->failed);
		put_field(l, ", ", field);
	}
}

size_t progress_format(const struct progress_figures *f, double rate, size_t columns, char *out,
                       size_t len)
{
	if (len == 0)
		return 0;
	size_t room = columns < len ? columns : len - 1;
	struct line l = {out, 0, room, "  ", 0, 0};
	out[0] = '\0';
	put_fields(&l, f, rate);
	if (!l.full)
		return l.used;
	/* Short of room: single spaces, if more fields fit that way. */
	char tight[LINE_MAX_BYTES];
	struct line t = {tight, 0, room < sizeof tight ? room : sizeof tight - 1, " ", 0, 0};
	put_fields(&t, f, rate);
	if (t.fields > l.fields) {
		memcpy(out, tight, t.used + 1);
		return t.used;
	}
	return l.used;
}

/* ---- on the terminal ---------------------------------------------------- */

/* The terminal's columns now: 0 when `out` is none. */
static unsigned terminal_width(FILE *out)
{
	struct winsize ws;
	int fd = fileno(out);
	if (fd < 0)
		return 0;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *columns = getenv("COLUMNS");
	long n = columns ? strtol(columns, NULL, 10) : 0;
	return n > 0 && n < 10000 ? (unsigned)n : PROGRESS_DEFAULT_WIDTH;
}

/* What may not be assumed of a terminal without a name, or one named dumb
 * (Emacs's shell buffers, some CI logs): any escape sequence. */
static int terminal_is_dumb(void)
{
	const char *term = getenv("TERM");
	return !term || !*term || strcmp(term, "dumb") == 0;
}

/* Columns a frame may take: never the last one, where a terminal that
 * wraps at once (no pending wrap) would start a new row. */
static size_t columns_of(const struct progress *p)
{
	size_t c = p->width > 1 ? p->width - 1 : 0;
	return c < LINE_MAX_BYTES - 1 ? c : LINE_MAX_BYTES - 1;
}

/* Spaces over `n` columns of the last frame, for a dumb terminal. */
static size_t blank(char *out, size_t n)
{
	memset(out, ' ', n);
	return n;
}

void progress_init_on(struct progress *p, FILE *out, int plain, unsigned width, double now)
{
	memset(p, 0, sizeof *p);
	p->out = out;
	p->shown = 1;
	p->plain = plain;
	p->width = width ? width : PROGRESS_DEFAULT_WIDTH;
	rate_window_init(&p->rate, PROGRESS_RATE_SECONDS);
	rate_window_add(&p->rate, now, 0);
}

void progress_init(struct progress *p, int quiet, double now)
{
	progress_init_on(p, stderr, terminal_is_dumb(), terminal_width(stderr), now);
	p->shown = !quiet && isatty(STDERR_FILENO);
	p->follows_terminal = 1;
}

/* A narrower terminal may have rewrapped the frame on screen into rows
 * below the cursor: the next erase takes them too. */
static void take_width(struct progress *p, unsigned width)
{
	width = width ? width : PROGRESS_DEFAULT_WIDTH;
	if (width < p->width)
		p->rewrapped = 1;
	p->width = width;
}

/* Erases the frame on screen (the cursor is at its start). */
static size_t erase(struct progress *p, char *out)
{
	size_t used = 0;
	out[used++] = '\r';
	if (p->plain) {
		size_t columns = columns_of(p);
		used += blank(out + used, p->drawn < columns ? p->drawn : columns);
		out[used++] = '\r';
	} else {
		/* To the end of the screen only when rows below may hold some
		 * of it: tmux takes ESC [ J at the top left for a whole-screen
		 * clear and pushes the screen into its scrollback. */
		memcpy(out + used, p->rewrapped ? "\033[J" : "\033[K", 3);
		used += 3;
	}
	p->rewrapped = 0;
	return used;
}

static void draw(struct progress *p)
{
	if (p->follows_terminal)
		take_width(p, terminal_width(p->out));
	char line[LINE_MAX_BYTES];
	size_t columns = columns_of(p);
	size_t n = progress_format(&p->last, rate_window_rate(&p->rate), columns, line, sizeof line);
	char frame[2 * LINE_MAX_BYTES + 8];
	size_t used = 0;
	if (p->plain) {
		/* Over the last frame: spaces past the end of this one. */
		frame[used++] = '\r';
		memcpy(frame + used, line, n);
		used += n;
		size_t over = p->drawn < columns ? p->drawn : columns;
		if (over > n)
			used += blank(frame + used, over - n);
	} else {
		used = erase(p, frame);
		memcpy(frame + used, line, n);
		used += n;
	}
	frame[used++] = '\r'; /* the cursor waits at the start: see progress.h */
	fwrite(frame, 1, used, p->out);
	fflush(p->out);
	p->drawn = n ? n : 1; /* an empty frame still erased the line */
}

void progress_update(struct progress *p, const struct progress_figures *f, double now)
{
	rate_window_add(&p->rate, now, f->bytes);
	p->last = *f;
	p->have_figures = 1;
	if (p->shown)
		draw(p);
}

void progress_set_width(struct progress *p, unsigned width)
{
	take_width(p, width);
	if (p->shown && p->have_figures)
		draw(p);
}

void progress_resized(struct progress *p)
{
	if (p->shown)
		progress_set_width(p, terminal_width(p->out));
}

void progress_clear(struct progress *p)
{
	if (!p->shown || !p->drawn)
		return;
	char frame[LINE_MAX_BYTES + 8];
	size_t used = erase(p, frame);
	fwrite(frame, 1, used, p->out);
	fflush(p->out);
	p->drawn = 0;
}

void progress_end(struct progress *p)
{
	progress_clear(p);
	p->shown = 0;
}
