/*
 * The current rate of a growing counter: the bytes per second over the
 * last few seconds, from samples of the counter, as curl and wget show
 * it. A mean since the start would hide a transfer that slowed down (or
 * sped up) a minute ago; an average over a window follows the change and
 * has caught up completely one window after it.
 */
#ifndef JG_CLI_RATE_WINDOW_H
#define JG_CLI_RATE_WINDOW_H

#include <stdint.h>

/* Enough for a window of 5 s sampled every 0.2 s, with room to spare. */
enum { RATE_WINDOW_SAMPLES = 64 };

struct rate_window {
	double seconds;            /* the window's length */
	double t[RATE_WINDOW_SAMPLES];
	uint64_t count[RATE_WINDOW_SAMPLES];
	unsigned first, n;         /* a ring: the oldest sample and how many */
};

void rate_window_init(struct rate_window *w, double seconds);
/*
 * The counter read `count` at time `t` (seconds, not decreasing). The
 * oldest sample kept is the newest one at least `seconds` old, so the
 * rate is over a full window once there is that much history; with more
 * samples than fit in a window, the oldest go first.
 */
void rate_window_add(struct rate_window *w, double t, uint64_t count);
/* Per second over the window; -1 until two samples span some time. */
double rate_window_rate(const struct rate_window *w);

#endif
