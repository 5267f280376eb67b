/*
 * Unit tests of the progress line's pure parts: the rate over a moving
 * window, the ETA from the bytes known to come, the line cut to a width,
 * and the bytes a frame writes (escapes or none) into a memory stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "rate_window.h"

#define MiB (1024.0 * 1024.0)

static void assert_near(double got, double want, double tolerance)
{
	if (fabs(got - want) > tolerance)
		fail_msg("%f is not within %f of %f", got, tolerance, want);
}

/* ---- the rate window ---------------------------------------------------- */

static void test_rate_unknown_until_time_passes(void **state)
{
	struct rate_window w;
	rate_window_init(&w, 5);
	assert_true(rate_window_rate(&w) < 0);
	rate_window_add(&w, 10.0, 0);
	assert_true(rate_window_rate(&w) < 0);
	rate_window_add(&w, 10.0, 500);
	assert_true(rate_window_rate(&w) < 0);
	rate_window_add(&w, 10.5, 1000);
	assert_near(rate_window_rate(&w), 2000, 1e-9);
}

static void test_rate_steady(void **state)
{
	struct rate_window w;
	rate_window_init(&w, 5);
	for (int i = 0; i <= 100; i++)
		rate_window_add(&w, i * 0.2, (uint64_t)i * 20000); /* 100,000 B/s */
	assert_near(rate_window_rate(&w), 100000, 1e-6);
}

/*
 * The case: fast, then slow. One window (and a sample) after the
 * change the rate is the new one exactly, where the mean since the start
 * is still seven times too high.
 */
static void test_rate_follows_a_throttle_change(void **state)
{
	struct rate_window w;
	rate_window_init(&w, 5);
	uint64_t bytes = 0;
	int step = 0; /* a sample every 0.2 s */
	rate_window_add(&w, 0, bytes);
	while (step < 50) { /* 10 s at 200,000 B/s */
		bytes += 40000;
		rate_window_add(&w, ++step * 0.2, bytes);
	}
	assert_near(rate_window_rate(&w), 200000, 1e-6);
	for (int k = 1; k <= 26; k++) { /* then at 20,000 B/s */
		bytes += 4000;
		rate_window_add(&w, ++step * 0.2, bytes);
		double r = rate_window_rate(&w);
		if (k == 12) { /* half way through the window: some of each */
			assert_true(r > 100000 && r < 130000);
		}
	}
	/* 5.2 s after the change: the window holds none of the fast part. */
	assert_near(rate_window_rate(&w), 20000, 1e-6);
	double mean = (double)bytes / (step * 0.2);
	assert_true(mean > 130000);
}

/* More samples than the ring holds in a window: the oldest go, and the
 * rate is still right over what is left. */
static void test_rate_ring_overflow(void **state)
{
	struct rate_window w;
	rate_window_init(&w, 5);
	for (int i = 0; i < 1000; i++)
		rate_window_add(&w, i * 0.001, (uint64_t)i * 50); /* 50,000 B/s */
	assert_true(w.n <= RATE_WINDOW_SAMPLES);
	assert_near(rate_window_rate(&w), 50000, 1e-6);
}

/* A gap with no sample (a loop held up) keeps two samples: a rate still. */
static void test_rate_after_a_gap(void **state)
{
	struct rate_window w;
	rate_window_init(&w, 5);
	rate_window_add(&w, 0, 0);
	rate_window_add(&w, 1, 1000);
	rate_window_add(&w, 100, 1000);
	assert_true(w.n >= 2);
	assert_near(rate_window_rate(&w), 0, 1e-9);
	/* The newest sample at least a window old is still the one at 1 s:
	 * the gap counts as the time it was, with nothing coming. */
	rate_window_add(&w, 100.2, 3000);
	assert_near(rate_window_rate(&w), 2000 / 99.2, 1e-6);
	rate_window_add(&w, 105.2, 4000);
	assert_near(rate_window_rate(&w), 1000 / 5.0, 1e-6); /* from 100.2 on */
}

static void test_rate_counter_going_back_reads_zero(void **state)
{
	struct rate_window w;
	rate_window_init(&w, 5);
	rate_window_add(&w, 0, 1000);
	rate_window_add(&w, 1, 10);
	assert_near(rate_window_rate(&w), 0, 1e-9);
}

/* ---- ETA ---------------------------------------------------------------- */

static void test_eta_from_bytes(void **state)
{
	/* The book: 4.5 MB, of which 4.5 MB are left at 41 KB/s. */
	struct progress_figures f = {.done = 9, .total = 10, .bytes = 100000,
	                             .expected = 4510000, .active = 1};
	assert_near(progress_eta(&f, 41000), 110, 1e-9);
	/* Nothing left to come: there now. */
	f.expected = 0;
	assert_near(progress_eta(&f, 0), 0, 1e-9);
	assert_near(progress_eta(&f, -1), 0, 1e-9);
}

static void test_eta_unknown(void **state)
{
	struct progress_figures f = {.done = 1, .total = 10, .bytes = 100, .expected = 1000};
	f.unsized = 1; /* a book queued, or one without a Content-Length */
	assert_true(progress_eta(&f, 1000) < 0);
	f.unsized = 0;
	assert_true(progress_eta(&f, 0) < 0); /* nothing moves */
	assert_true(progress_eta(&f, -1) < 0); /* no rate yet */
	assert_near(progress_eta(&f, 1000), 1, 1e-9);
}

/* ---- the line ----------------------------------------------------------- */

static const struct progress_figures busy = {
	.done = 3, .total = 10, .bytes = (uint64_t)(1.5 * MiB), .expected = (uint64_t)(3 * MiB),
	.unsized = 0, .active = 2, .waiting = 1, .failed = 4,
};

static void test_format_whole(void **state)
{
	char out[256];
	size_t n = progress_format(&busy, MiB, 200, out, sizeof out);
	assert_string_equal(out, "[3/10] 1.5/4.5 MiB  1.0 MiB/s  ETA 0:03  2 active, 1 waiting, "
	                         "4 failed");
	assert_int_equal(n, strlen(out));
}

static void test_format_honest_totals(void **state)
{
	char out[256];
	struct progress_figures f = busy;
	f.unsized = 5; /* more to come, of sizes not known */
	progress_format(&f, MiB, 200, out, sizeof out);
	assert_string_equal(out, "[3/10] 1.5/4.5+ MiB  1.0 MiB/s  2 active, 1 waiting, 4 failed");
	f.expected = 0; /* no size known at all */
	progress_format(&f, MiB, 200, out, sizeof out);
	assert_string_equal(out, "[3/10] 1.5/? MiB  1.0 MiB/s  2 active, 1 waiting, 4 failed");
	/* No rate yet, nothing waiting or failed, bytes alone. */
	struct progress_figures g = {.done = 0, .total = 2, .bytes = 512, .expected = 388,
	                             .active = 2};
	progress_format(&g, -1, 200, out, sizeof out);
	assert_string_equal(out, "[0/2] 512/900 B  2 active");
	/* One unit for both: the larger's. */
	g.bytes = 100 * 1024;
	g.expected = (uint64_t)(2 * MiB);
	progress_format(&g, 0, 200, out, sizeof out);
	assert_string_equal(out, "[0/2] 0.1/2.1 MiB  0 B/s  2 active");
}

static void test_format_eta_hours(void **state)
{
	char out[256];
	struct progress_figures f = {.done = 0, .total = 1, .bytes = 0, .expected = 3723,
	                             .active = 1};
	progress_format(&f, 1, 200, out, sizeof out);
	assert_string_equal(out, "[0/1] 0.0/3.6 KiB  1 B/s  ETA 1:02:03  1 active");
	f.expected = 100 * 3600; /* 100 hours: no forecast */
	progress_format(&f, 1, 200, out, sizeof out);
	assert_string_equal(out, "[0/1] 0.0/351.6 KiB  1 B/s  1 active");
}

/* 50 columns: whole fields only, single spaces when that fits more. */
static void test_format_fifty_columns(void **state)
{
	char out[256];
	size_t n = progress_format(&busy, MiB, 49, out, sizeof out);
	assert_string_equal(out, "[3/10] 1.5/4.5 MiB  1.0 MiB/s  ETA 0:03  2 active");
	assert_int_equal(n, 49);
	n = progress_format(&busy, MiB, 48, out, sizeof out);
	assert_string_equal(out, "[3/10] 1.5/4.5 MiB 1.0 MiB/s ETA 0:03 2 active");
	assert_int_equal(n, 46);
	n = progress_format(&busy, MiB, 45, out, sizeof out);
	assert_string_equal(out, "[3/10] 1.5/4.5 MiB  1.0 MiB/s  ETA 0:03");
}

/* At every width: never wider, only whole fields (the first alone may be
 * cut), and a prefix of the whole line, loose or tight. */
static void test_format_every_width(void **state)
{
	char loose[256], tight[256], out[256];
	progress_format(&busy, MiB, 200, loose, sizeof loose);
	progress_format(&busy, MiB, 67, tight, sizeof tight); /* all, single spaces */
	assert_string_equal(tight, "[3/10] 1.5/4.5 MiB 1.0 MiB/s ETA 0:03 2 active, 1 waiting, "
	                           "4 failed");
	for (size_t w = 0; w <= 130; w++) {
		size_t n = progress_format(&busy, MiB, w, out, sizeof out);
		assert_int_equal(n, strlen(out));
		assert_true(n <= w);
		if (w < strlen("[3/10]")) {
			assert_int_equal(n, w);
			assert_memory_equal(out, "[3/10]", n);
			continue;
		}
		const char *whole = strncmp(out, loose, n) == 0 ? loose : tight;
		assert_memory_equal(out, whole, n);
		char next = whole[n];
		assert_true(next == '\0' || next == ' ' || next == ',');
	}
	/* A buffer smaller than the width bounds it too. */
	char small[8];
	assert_int_equal(progress_format(&busy, MiB, 200, small, sizeof small), 6);
	assert_string_equal(small, "[3/10]");
	assert_int_equal(progress_format(&busy, MiB, 200, small, 4), 3);
	assert_string_equal(small, "[3/");
}

/* ---- frames ------------------------------------------------------------- */

struct mem {
	char *buf;
	size_t len;
	FILE *f;
};

static void mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
}

static void mem_close(struct mem *m)
{
	fclose(m->f);
	free(m->buf);
}

static const struct progress_figures small_run = {
	.done = 1, .total = 4, .bytes = 100, .expected = 200, .active = 3,
};

static void test_frames_with_escapes(void **state)
{
	struct mem m;
	mem_open(&m);
	struct progress p;
	progress_init_on(&p, m.f, 0, 120, 0.0);
	progress_update(&p, &small_run, 1.0);
	assert_string_equal(m.buf, "\r\033[K[1/4] 100/300 B  100 B/s  ETA 0:02  3 active\r");
	size_t was = m.len;
	progress_clear(&p);
	assert_string_equal(m.buf + was, "\r\033[K");
	was = m.len;
	progress_clear(&p); /* nothing on screen: nothing written */
	progress_end(&p);
	assert_int_equal(m.len, was);
	progress_update(&p, &small_run, 2.0); /* ended: never drawn again */
	assert_int_equal(m.len, was);
	mem_close(&m);
}

/* TERM=dumb: carriage returns and spaces, never an escape. */
static void test_frames_plain(void **state)
{
	struct mem m;
	mem_open(&m);
	struct progress p;
	progress_init_on(&p, m.f, 1, 120, 0.0);
	struct progress_figures f = small_run;
	f.failed = 12345;
	progress_update(&p, &f, 1.0);
	const char *first = "\r[1/4] 100/300 B  100 B/s  ETA 0:02  3 active, 12345 failed\r";
	assert_string_equal(m.buf, first);
	size_t was = m.len;
	progress_update(&p, &small_run, 2.0); /* shorter: spaces over the rest */
	const char *text = "[1/4] 100/300 B  50 B/s  ETA 0:04  3 active";
	char want[256];
	snprintf(want, sizeof want, "\r%s%*s\r", text, (int)(strlen(first) - 2 - strlen(text)), "");
	assert_string_equal(m.buf + was, want);
	was = m.len;
	progress_clear(&p); /* spaces over the text: the rest is blank already */
	snprintf(want, sizeof want, "\r%*s\r", (int)strlen(text), "");
	assert_string_equal(m.buf + was, want);
	assert_null(memchr(m.buf, '\033', m.len));
	mem_close(&m);
}

/*
 * A new width (SIGWINCH) redraws the last figures to fit it. After a
 * narrowing the terminal may have rewrapped the frame into rows below the
 * cursor: that one erase is to the end of the screen.
 */
static void test_frames_refit(void **state)
{
	struct mem m;
	mem_open(&m);
	struct progress p;
	progress_init_on(&p, m.f, 0, 120, 0.0);
	progress_update(&p, &busy, 1.0);
	size_t was = m.len;
	progress_set_width(&p, 20);
	assert_string_equal(m.buf + was, "\r\033[J[3/10] 1.5/4.5 MiB\r"); /* 19 columns at most */
	was = m.len;
	progress_update(&p, &busy, 1.2);
	assert_string_equal(m.buf + was, "\r\033[K[3/10] 1.5/4.5 MiB\r");
	was = m.len;
	progress_set_width(&p, 2);
	assert_string_equal(m.buf + was, "\r\033[J[\r");
	was = m.len;
	progress_set_width(&p, 1); /* no column to spare: an empty frame */
	assert_string_equal(m.buf + was, "\r\033[J\r");
	was = m.len;
	progress_set_width(&p, 80); /* wider: nothing was rewrapped */
	assert_string_equal(m.buf + was, "\r\033[K[3/10] 1.5/4.5 MiB  1.2 MiB/s  ETA 0:02  2 active, "
	                                 "1 waiting, 4 failed\r");
	/* Narrower, then cleared before the next frame: the clear takes the rows. */
	progress_set_width(&p, 80);
	p.shown = 1;
	was = m.len;
	p.have_figures = 0; /* no redraw, as before the first frame */
	progress_set_width(&p, 30);
	progress_clear(&p);
	assert_string_equal(m.buf + was, "\r\033[J");
	mem_close(&m);
}

/* The end of a run erases the frame on screen: the summary gets a clean row. */
static void test_end_erases_the_frame(void **state)
{
	struct mem m;
	mem_open(&m);
	struct progress p;
	progress_init_on(&p, m.f, 0, 80, 0.0);
	progress_update(&p, &small_run, 1.0);
	size_t was = m.len;
	progress_end(&p);
	assert_string_equal(m.buf + was, "\r\033[K");
	mem_close(&m);
}

static void test_not_shown_writes_nothing(void **state)
{
	struct mem m;
	mem_open(&m);
	struct progress p;
	progress_init_on(&p, m.f, 0, 80, 0.0);
	p.shown = 0; /* as progress_init() leaves it with -q or no terminal */
	progress_update(&p, &busy, 1.0);
	progress_set_width(&p, 40);
	progress_clear(&p);
	progress_end(&p);
	fflush(m.f);
	assert_int_equal(m.len, 0);
	mem_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_unknown_until_time_passes),
		cmocka_unit_test(test_rate_steady),
		cmocka_unit_test(test_rate_follows_a_throttle_change),
		cmocka_unit_test(test_rate_ring_overflow),
		cmocka_unit_test(test_rate_after_a_gap),
		cmocka_unit_test(test_rate_counter_going_back_reads_zero),
		cmocka_unit_test(test_eta_from_bytes),
		cmocka_unit_test(test_eta_unknown),
		cmocka_unit_test(test_format_whole),
		cmocka_unit_test(test_format_honest_totals),
		cmocka_unit_test(test_format_eta_hours),
		cmocka_unit_test(test_format_fifty_columns),
		cmocka_unit_test(test_format_every_width),
		cmocka_unit_test(test_frames_with_escapes),
		cmocka_unit_test(test_frames_plain),
		cmocka_unit_test(test_frames_refit),
		cmocka_unit_test(test_end_erases_the_frame),
		cmocka_unit_test(test_not_shown_writes_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
