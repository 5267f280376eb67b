/*
 * The loop stall: how long one loop iteration spends in callbacks, from
 * the moment poll returns (ev_check) to the moment the loop is about to
 * wait again (ev_prepare). That figure tells an embedder whether juggle
 * delays its own watchers.
 */
#ifndef JG_STALL_H
#define JG_STALL_H

#include <ev.h>
#include <stdint.h>

/* Log-linear buckets: 8 per power of two of microseconds, up to ~1 hour. */
enum { JG_STALL_BUCKETS = 8 * 32 };

struct jg_stall {
	struct ev_loop *loop;
	ev_prepare prepare;
	ev_check check;
	double woke;               /* when poll last returned; 0 = not yet */
	double max;
	uint64_t iterations;
	uint64_t hist[JG_STALL_BUCKETS];
};

/*
 * Work that comes in bulk (admitting thousands of URLs, a thousand sockets
 * ready at once) yields once the current iteration has run JG_SLICE
 * seconds, and goes on in the next one, so that no iteration is long.
 * ev_now() is when poll last returned: the iteration's start. Half a
 * millisecond: an iteration that yields has run a little past its
 * slice, and the goal is 99% of iterations under 1 ms (count_cost's
 * bulk1000 with counting: p99 1.4-1.6 ms at 0.5 ms, 3.6-4.5 ms at 1 ms).
 */
#define JG_SLICE 0.0005
static inline int jg_slice_spent(struct ev_loop *loop)
{
	return ev_time() - ev_now(loop) >= JG_SLICE;
}

void jg_stall_start(struct jg_stall *st, struct ev_loop *loop);
void jg_stall_stop(struct jg_stall *st);
/* Seconds: the `q` quantile (0..1), an upper bound of its bucket. */
double jg_stall_quantile(const struct jg_stall *st, double q);
/* For tests: count one iteration of `seconds`. */
void jg_stall_record(struct jg_stall *st, double seconds);

#endif
