#include "rate_window.h"

void rate_window_init(struct rate_window *w, double seconds)
{
	w->seconds = seconds;
	w->first = w->n = 0;
}

static unsigned slot(const struct rate_window *w, unsigned i)
{
	return (w->first + i) % RATE_WINDOW_SAMPLES;
}

void rate_window_add(struct rate_window *w, double t, uint64_t count)
{
	if (w->n == RATE_WINDOW_SAMPLES) {
		w->first = slot(w, 1);
		w->n--;
	}
	unsigned at = slot(w, w->n++);
	w->t[at] = t;
	w->count[at] = count;
	/* The second oldest is old enough to span the window alone. */
	while (w->n > 2 && w->t[slot(w, 1)] <= t - w->seconds) {
		w->first = slot(w, 1);
		w->n--;
	}
}

double rate_window_rate(const struct rate_window *w)
{
	if (w->n < 2)
		return -1;
	unsigned old = w->first, now = slot(w, w->n - 1);
	double span = w->t[now] - w->t[old];
	if (span <= 0)
		return -1;
	/* A counter that went back (it never should) reads as no progress. */
	uint64_t gained = w->count[now] > w->count[old] ? w->count[now] - w->count[old] : 0;
	return (double)gained / span;
}
