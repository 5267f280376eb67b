#include "stall.h"

#include <math.h>
#include <string.h>
#include <time.h>

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned bucket_of(double seconds)
{
	double us = seconds * 1e6;
	if (us < 1)
		return 0;
	int e;
	double m = frexp(us, &e); /* us = m * 2^e, m in [0.5, 1) */
	unsigned b = (unsigned)(e - 1) * 8 + (unsigned)((m - 0.5) * 16);
	return b < JG_STALL_BUCKETS ? b : JG_STALL_BUCKETS - 1;
}

static double bucket_upper(unsigned b)
{
	unsigned e = b / 8 + 1, sub = b % 8;
	return ldexp(0.5 + (sub + 1) / 16.0, (int)e) / 1e6;
}

void jg_stall_record(struct jg_stall *st, double seconds)
{
	if (seconds > st->max)
		st->max = seconds;
	st->hist[bucket_of(seconds)]++;
	st->iterations++;
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents)
{
	struct jg_stall *st = w->data;
	st->woke = mono_now();
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct jg_stall *st = w->data;
	if (st->woke > 0)
		jg_stall_record(st, mono_now() - st->woke);
}

void jg_stall_start(struct jg_stall *st, struct ev_loop *loop)
{
	memset(st, 0, sizeof *st);
	st->loop = loop;
	/* Check first after poll, prepare last before it: the widest span. */
	ev_check_init(&st->check, on_check);
	ev_set_priority(&st->check, EV_MAXPRI);
	st->check.data = st;
	ev_prepare_init(&st->prepare, on_prepare);
	ev_set_priority(&st->prepare, EV_MINPRI);
	st->prepare.data = st;
	ev_check_start(loop, &st->check);
	ev_prepare_start(loop, &st->prepare);
	/* Measuring must not keep the caller's loop alive. */
	ev_unref(loop);
	ev_unref(loop);
}

void jg_stall_stop(struct jg_stall *st)
{
	if (!st->loop)
		return;
	ev_ref(st->loop);
	ev_ref(st->loop);
	ev_check_stop(st->loop, &st->check);
	ev_prepare_stop(st->loop, &st->prepare);
	st->loop = NULL;
}

double jg_stall_quantile(const struct jg_stall *st, double q)
{
	if (st->iterations == 0)
		return 0;
	uint64_t want = (uint64_t)ceil(q * (double)st->iterations);
	uint64_t seen = 0;
	for (unsigned b = 0; b < JG_STALL_BUCKETS; b++) {
		seen += st->hist[b];
		if (seen >= want && st->hist[b]) {
			double up = bucket_upper(b);
			return up < st->max ? up : st->max;
		}
	}
	return st->max;
}
