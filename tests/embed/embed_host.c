/*
 * A host program that embeds juggle in its own libev loop, the way a
 * daemon would: linked against the shared library, using juggle.h alone.
 * tests/integration/test_embed.py runs one scenario per invocation and
 * reads the verdict from the exit status and stderr.
 *
 *   embed_host MODE BASE_URL OUT_DIR
 *
 * MODE
 *   timer    200 throttled books download while the host's own 10 ms
 *            timer and an ev_io keep running; the timer is never more
 *            than 20 ms late.
 *   threads  the host runs a malloc-heavy thread before it creates its
 *            pool: workers must start (by exec of the helper) and count.
 *   two      two sessions share one loop and one pool; a callback adds
 *            URLs to its own session.
 *   free     sessions freed with transfers in flight, once from a timer
 *            and once from inside a callback: every URL reported once,
 *            nothing left on disk (ASan/LSan check the rest).
 *   forget   a session that forgets finished books and keeps no table of
 *            all words: its callback adds the very URL it is told about
 *            again, a failed one and a saved one; indexes still count
 *            every add, the second copy of a saved book gets "name.1",
 *            and freeing it with books in flight frees their strings.
 *   robots   a session that keeps to robots.txt (none here: a 404, so
 *            all allowed) saves its books; a second one over the same
 *            directory is refused (JG_EBUSY) and leaves the host's
 *            descriptors alone, its stdin included.
 */
#include <fcntl.h>
#include <juggle.h>

#include <ev.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

static const char *base;
static int failures;

__attribute__((format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "FAIL: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

static struct jg_session *new_session(struct ev_loop *loop, struct jg_pool *pool,
                                      const char *dir)
{
	struct jg_options *o = jg_options_new();
	jg_options_set_output_dir(o, dir);
	jg_options_set_jobs(o, 32);
	jg_options_set_per_host(o, 32);
	jg_options_set_retries(o, 0);
	jg_options_set_pool(o, pool);
	struct jg_session *s;
	char why[JG_ERRBUF_SIZE];
	int rc = jg_session_new(&s, loop, o, why);
	jg_options_free(o);
	if (rc != JG_OK) {
		fprintf(stderr, "jg_session_new: %s\n", why);
		exit(2);
	}
	return s;
}

static void add(struct jg_session *s, const char *path, void *user)
{
	char url[512];
	snprintf(url, sizeof url, "%s%s", base, path);
	int rc = jg_session_add_url(s, url, user);
	if (rc != JG_OK)
		fail("add %s: %s", url, jg_strerror(rc));
}

/* Files in `dir`, temporary ones included. */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		/* .juggle holds the session's lock: not a book */
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, ".juggle") != 0)
			n++;
	closedir(d);
	return n;
}

/* ---- counting books per session ----------------------------------------- */

struct tally {
	unsigned ok, failed, cancelled, counted;
	uint64_t words;
	int idle;
	struct ev_loop *loop;
	unsigned *sessions_idle;    /* shared: break when all are idle */
	unsigned sessions;
	unsigned add_on_first;      /* URLs to add from inside the first callback */
	struct jg_session *free_on_book; /* free this session from its callback */
	unsigned stamped;           /* books whose mtime the session told */
};

/*
 * What jg_session_result_mtime() says of `r`: the mtime its file has,
 * when it says anything; nothing of a copy of `r`, nor of a failure.
 */
static void check_mtime(struct jg_session *s, const struct jg_result *r, struct tally *t)
{
	struct timespec m;
	struct jg_result copy = *r;
	if (jg_session_result_mtime(s, &copy, &m) != JG_EINVAL)
		fail("jg_session_result_mtime answered for a copy of the result");
	if (jg_session_result_mtime(s, r, &m) != JG_OK)
		return;
	struct stat st;
	if (r->err != JG_OK || lstat(r->file, &st) != 0 || st.st_mtim.tv_sec != m.tv_sec ||
	    st.st_mtim.tv_nsec != m.tv_nsec)
		fail("%s: the mtime told is not its file's", r->url);
	t->stamped++;
}

static void on_book(struct jg_session *s, const struct jg_result *r, void *user)
{
	struct tally *t = user;
	if (r->err != JG_ECANCELED)
		check_mtime(s, r, t);
	if (r->err == JG_OK) {
		t->ok++;
		if (r->counted) {
			t->counted++;
			t->words += r->words;
		}
	} else if (r->err == JG_ECANCELED) {
		t->cancelled++;
		return; /* the session may not be used from here */
	} else {
		t->failed++;
		fprintf(stderr, "book %s: %s\n", r->url, r->error);
	}
	if (t->add_on_first) {
		unsigned n = t->add_on_first;
		t->add_on_first = 0;
		for (unsigned i = 0; i < n; i++) {
			char path[64];
			snprintf(path, sizeof path, "/gen/added-%p-%u.txt", (void *)s, i);
			add(s, path, NULL);
		}
	}
	if (t->free_on_book == s) {
		t->free_on_book = NULL;
		jg_session_free(s);
	}
}

static void on_idle(struct jg_session *s, void *user)
{
	struct tally *t = user;
	t->idle = 1;
	if (++*t->sessions_idle == t->sessions)
		ev_break(t->loop, EVBREAK_ONE);
}

/* ---- timer: the host's watchers keep their times -------------------------- */

struct host_timer {
	ev_timer tick;
	ev_io io;
	int pipe[2];
	double last, worst;
	unsigned ticks, reads;
};

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct host_timer *h = w->data;
	double now = ev_time();
	if (h->last > 0 && now - h->last - 0.010 > h->worst)
		h->worst = now - h->last - 0.010;
	h->last = now;
	h->ticks++;
	if (write(h->pipe[1], "x", 1) != 1)
		fail("host pipe write");
}

static void on_host_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct host_timer *h = w->data;
	char buf[64];
	if (read(h->pipe[0], buf, sizeof buf) > 0)
		h->reads++;
}

static int mode_timer(struct ev_loop *loop, struct jg_pool *pool, const char *out)
{
	struct host_timer h = {0};
	if (pipe(h.pipe) < 0)
		return 2;
	ev_timer_init(&h.tick, on_tick, 0.010, 0.010);
	h.tick.data = &h;
	ev_io_init(&h.io, on_host_io, h.pipe[0], EV_READ);
	h.io.data = &h;
	ev_timer_start(loop, &h.tick);
	ev_io_start(loop, &h.io);

	unsigned idle = 0;
	struct tally t = {.loop = loop, .sessions_idle = &idle, .sessions = 1};
	struct jg_session *s = new_session(loop, pool, out);
	jg_session_on_book(s, on_book, &t);
	jg_session_on_idle(s, on_idle, &t);
	/* 200 books of 200 KB at 1 MB/s each: transfers overlap for seconds. */
	for (unsigned i = 0; i < 200; i++) {
		char path[64];
		snprintf(path, sizeof path, "/gen/t%u.txt?size=200000&rate=1000000", i);
		add(s, path, NULL);
	}
	ev_run(loop, 0);
	struct jg_stats st;
	jg_session_stats(s, &st);
	jg_session_free(s);
	ev_timer_stop(loop, &h.tick);
	ev_io_stop(loop, &h.io);
	close(h.pipe[0]);
	close(h.pipe[1]);
	fprintf(stderr, "timer: %u ticks, %u reads, worst lateness %.1f ms; loop stall max %.1f ms "
	        "p99 %.1f ms; %u ok, %u counted\n", h.ticks, h.reads, h.worst * 1e3,
	        st.stall_max * 1e3, st.stall_p99 * 1e3, t.ok, t.counted);
	if (t.ok != 200 || t.counted != 200)
		fail("%u of 200 books ok, %u counted", t.ok, t.counted);
	if (h.ticks < 50 || h.reads == 0)
		fail("the host's watchers hardly ran: %u ticks, %u reads", h.ticks, h.reads);
	if (h.worst > 0.020)
		fail("the host's 10 ms timer fired %.1f ms late", h.worst * 1e3);
	return 0;
}

/* ---- threads: a host that already runs threads ---------------------------- */

static atomic_int stop_churn;

/* Keeps malloc's locks busy: a fork taken now would copy them held. */
static void *churn(void *arg)
{
	void *keep[64] = {0};
	for (unsigned i = 0; !atomic_load(&stop_churn); i++) {
		free(keep[i % 64]);
		keep[i % 64] = malloc(16 + (i * 7919) % 4096);
	}
	for (unsigned i = 0; i < 64; i++)
		free(keep[i]);
	return NULL;
}

static int mode_threads(struct ev_loop *loop, const char *out)
{
	pthread_t th;
	if (pthread_create(&th, NULL, churn, NULL) != 0)
		return 2;
	struct jg_pool *pool;
	char why[JG_ERRBUF_SIZE];
	if (jg_pool_new(&pool, 2, why) != JG_OK) {
		fail("jg_pool_new in a threaded host: %s", why);
		atomic_store(&stop_churn, 1);
		pthread_join(th, NULL);
		return 0;
	}
	if (jg_pool_exec_starts(pool) != 2)
		fail("%u of 2 workers started by the helper", jg_pool_exec_starts(pool));
	unsigned idle = 0;
	struct tally t = {.loop = loop, .sessions_idle = &idle, .sessions = 1};
	struct jg_session *s = new_session(loop, pool, out);
	jg_session_on_book(s, on_book, &t);
	jg_session_on_idle(s, on_idle, &t);
	for (unsigned i = 0; i < 40; i++) {
		char path[64];
		snprintf(path, sizeof path, "/gen/th%u.txt?size=50000", i);
		add(s, path, NULL);
	}
	ev_run(loop, 0);
	jg_session_free(s);
	atomic_store(&stop_churn, 1);
	pthread_join(th, NULL);
	jg_pool_free(pool);
	fprintf(stderr, "threads: %u ok, %u counted, %llu words\n", t.ok, t.counted,
	        (unsigned long long)t.words);
	if (t.ok != 40 || t.counted != 40 || t.words == 0)
		fail("%u of 40 books ok, %u counted, %llu words", t.ok, t.counted,
		     (unsigned long long)t.words);
	return 0;
}

/* ---- nocount: saving only, on the loop ---------------------------------- */

/* Each body goes to its file on the loop: the session knows every file's
 * mtime, and tells it only inside the callback. */
static int mode_nocount(struct ev_loop *loop, const char *out)
{
	unsigned idle = 0;
	struct tally t = {.loop = loop, .sessions_idle = &idle, .sessions = 1};
	struct jg_session *s = new_session(loop, NULL, out);
	jg_session_on_book(s, on_book, &t);
	jg_session_on_idle(s, on_idle, &t);
	for (unsigned i = 0; i < 20; i++) {
		char path[64];
		snprintf(path, sizeof path, "/gen/nc%u.txt?size=%u", i, 1000 + 500 * i);
		add(s, path, NULL);
	}
	ev_run(loop, 0);
	struct timespec m;
	struct jg_result none = {0};
	if (jg_session_result_mtime(s, &none, &m) != JG_EINVAL ||
	    jg_session_result_mtime(NULL, &none, &m) != JG_EINVAL)
		fail("jg_session_result_mtime answered outside a callback");
	jg_session_free(s);
	fprintf(stderr, "nocount: %u ok, %u stamped\n", t.ok, t.stamped);
	if (t.ok != 20 || t.stamped != 20)
		fail("%u of 20 books ok, %u with their mtime", t.ok, t.stamped);
	return 0;
}

/* ---- free with transfers in flight --------------------------------------- */

struct freer {
	ev_timer timer;
	struct jg_session *s;
};

static void on_free_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct freer *f = w->data;
	jg_session_free(f->s);
	f->s = NULL;
	ev_break(loop, EVBREAK_ONE);
}

/* ---- two sessions, one loop ----------------------------------------------- */

static int mode_two(struct ev_loop *loop, struct jg_pool *pool, const char *out)
{
	char da[4096], db[4096];
	snprintf(da, sizeof da, "%s/a", out);
	snprintf(db, sizeof db, "%s/b", out);
	unsigned idle = 0;
	struct tally ta = {.loop = loop, .sessions_idle = &idle, .sessions = 2, .add_on_first = 5};
	struct tally tb = {.loop = loop, .sessions_idle = &idle, .sessions = 2, .add_on_first = 5};
	struct jg_session *a = new_session(loop, pool, da);
	struct jg_session *b = new_session(loop, pool, db);
	jg_session_on_book(a, on_book, &ta);
	jg_session_on_idle(a, on_idle, &ta);
	jg_session_on_book(b, on_book, &tb);
	jg_session_on_idle(b, on_idle, &tb);
	for (unsigned i = 0; i < 20; i++) {
		char path[64];
		snprintf(path, sizeof path, "/gen/two%u.txt?delay=20", i);
		add(a, path, NULL);
		add(b, path, NULL);
	}
	ev_run(loop, 0);
	/* Draining a session that is already idle reports idle once more:
	 * a daemon stopping waits for exactly that. */
	idle = 0;
	jg_session_drain(a);
	jg_session_drain(b);
	ev_timer guard;
	struct freer none = {.s = NULL};
	ev_timer_init(&guard, on_free_timer, 2.0, 0.);
	guard.data = &none;
	ev_timer_start(loop, &guard);
	ev_run(loop, 0);
	if (ev_is_active(&guard))
		ev_timer_stop(loop, &guard);
	else
		fail("no idle callback after draining idle sessions");
	jg_session_free(a);
	jg_session_free(b);
	fprintf(stderr, "two: a %u ok (%u counted), b %u ok (%u counted); files %d + %d\n", ta.ok,
	        ta.counted, tb.ok, tb.counted, count_files(da), count_files(db));
	if (ta.ok != 25 || tb.ok != 25 || ta.counted != 25 || tb.counted != 25)
		fail("expected 25 books counted per session");
	if (count_files(da) != 25 || count_files(db) != 25)
		fail("expected 25 files per directory");
	return 0;
}

static int mode_free(struct ev_loop *loop, struct jg_pool *pool, const char *out)
{
	char d1[4096], d2[4096];
	snprintf(d1, sizeof d1, "%s/timer", out);
	snprintf(d2, sizeof d2, "%s/callback", out);
	unsigned idle = 0;

	/* Freed from a timer while 30 slow transfers are under way. */
	struct tally t1 = {.loop = loop, .sessions_idle = &idle, .sessions = 99};
	struct jg_session *s1 = new_session(loop, pool, d1);
	jg_session_on_book(s1, on_book, &t1);
	for (unsigned i = 0; i < 30; i++) {
		char path[64];
		snprintf(path, sizeof path, "/gen/slow%u.txt?size=400000&rate=100000", i);
		add(s1, path, NULL);
	}
	struct freer f = {.s = s1};
	ev_timer_init(&f.timer, on_free_timer, 0.5, 0.);
	f.timer.data = &f;
	ev_timer_start(loop, &f.timer);
	ev_run(loop, 0);
	fprintf(stderr, "free from a timer: %u ok, %u failed, %u cancelled, %d files\n", t1.ok,
	        t1.failed, t1.cancelled, count_files(d1));
	if (t1.ok + t1.failed + t1.cancelled != 30 || t1.cancelled == 0)
		fail("every URL must be reported once, some cancelled");
	if (count_files(d1) != 0)
		fail("files left after free in flight: %d", count_files(d1));

	/* Freed from inside its own callback: one quick book, the rest slow. */
	struct tally t2 = {.loop = loop, .sessions_idle = &idle, .sessions = 99};
	struct jg_session *s2 = new_session(loop, pool, d2);
	t2.free_on_book = s2;
	jg_session_on_book(s2, on_book, &t2);
	add(s2, "/gen/quick.txt?size=1000", NULL);
	for (unsigned i = 0; i < 10; i++) {
		char path[64];
		snprintf(path, sizeof path, "/gen/hang%u.txt?stall=1000&size=100000", i);
		add(s2, path, NULL);
	}
	/* The session frees itself before the loop next waits; then nothing
	 * of it is left on the loop, and ev_run returns once the pool is all
	 * that remains... which keeps it alive, so bound the wait. */
	ev_timer stop;
	ev_timer_init(&stop, on_free_timer, 1.0, 0.);
	struct freer none = {.s = NULL};
	stop.data = &none;
	ev_timer_start(loop, &stop);
	ev_run(loop, 0);
	ev_timer_stop(loop, &stop);
	fprintf(stderr, "free from a callback: %u ok, %u cancelled, %d files\n", t2.ok,
	        t2.cancelled, count_files(d2));
	if (t2.ok != 1 || t2.cancelled != 10)
		fail("expected 1 ok and 10 cancelled, got %u and %u", t2.ok, t2.cancelled);
	if (count_files(d2) != 1)
		fail("expected only quick.txt in %s, found %d files", d2, count_files(d2));
	return 0;
}

/* ---- forget: a finished URL may come again -------------------------------- */

struct resend {
	struct ev_loop *loop;
	unsigned failed_seen, saved_seen;
	uint64_t indexes, words; /* a bit per index reported */
	int collected;
	uint64_t collected_total;
};

static void on_resend_book(struct jg_session *s, const struct jg_result *r, void *user)
{
	struct resend *t = user;
	if (r->err == JG_ECANCELED)
		return;
	if (r->index >= 64 || (t->indexes & (1ull << r->index)))
		fail("index %llu reported twice", (unsigned long long)r->index);
	else
		t->indexes |= 1ull << r->index;
	if (strstr(r->url, "status=503")) {
		if (r->err == JG_OK)
			fail("%s: saved", r->url);
		/* The same URL, at once, from its own callback: 3 times in all. */
		if (++t->failed_seen < 3 && jg_session_add_url(s, r->url, NULL) != JG_OK)
			fail("resending %s refused", r->url);
	} else {
		if (r->err != JG_OK || !r->counted || r->words == 0)
			fail("%s: %s", r->url, r->error);
		t->words += r->words;
		const char *name = strrchr(r->file, '/') + 1;
		if (++t->saved_seen == 1) {
			if (strcmp(name, "again.txt") != 0 || r->foreign_file)
				fail("first copy saved as %s", name);
			if (jg_session_add_url(s, r->url, NULL) != JG_OK)
				fail("resending %s refused", r->url);
		} else if (strcmp(name, "again.txt.1") != 0 || !r->foreign_file ||
		           strcmp(r->foreign_file, "again.txt") != 0) {
			fail("second copy saved as %s (foreign %s)", name,
			     r->foreign_file ? r->foreign_file : "none");
		}
	}
}

static void on_resend_idle(struct jg_session *s, void *user)
{
	ev_break(((struct resend *)user)->loop, EVBREAK_ONE);
}

static void on_collected(struct jg_pool *pool, const struct jg_counts *counts, void *user)
{
	struct resend *t = user;
	t->collected = 1;
	t->collected_total = jg_counts_total(counts);
	ev_break(t->loop, EVBREAK_ONE);
}

static int mode_forget(struct ev_loop *loop, struct jg_pool *pool, const char *out)
{
	struct jg_options *o = jg_options_new();
	jg_options_set_output_dir(o, out);
	jg_options_set_retries(o, 0);
	jg_options_set_pool(o, pool);
	jg_options_set_forget_finished(o, 1);
	jg_options_set_counting(o, JG_COUNT_NO_TOTALS, 0);
	struct jg_session *s;
	char why[JG_ERRBUF_SIZE];
	if (jg_session_new(&s, loop, o, why) != JG_OK) {
		fprintf(stderr, "jg_session_new: %s\n", why);
		return 2;
	}
	jg_options_free(o);
	struct resend t = {.loop = loop};
	jg_session_on_book(s, on_resend_book, &t);
	jg_session_on_idle(s, on_resend_idle, &t);
	add(s, "/gen/again.txt?size=5000", NULL);
	add(s, "/gen/flaky.txt?status=503", NULL);
	char url[512];
	snprintf(url, sizeof url, "%s/gen/again.txt?size=5000", base);
	if (jg_session_add_url(s, url, NULL) != JG_EDUPLICATE)
		fail("a URL in flight added twice");
	ev_run(loop, 0);
	struct jg_stats st;
	jg_session_stats(s, &st);
	if (t.failed_seen != 3 || t.saved_seen != 2 || st.added != 5 || t.indexes != 0x1f)
		fail("expected 3 failed and 2 saved reports of 5 adds, got %u, %u, %llu", t.failed_seen,
		     t.saved_seen, (unsigned long long)st.added);
	/* No table of all words: the pool's is empty, each book's figures not. */
	jg_pool_collect(pool, on_collected, &t);
	if (!t.collected) /* it may call back at once */
		ev_run(loop, 0);
	if (!t.collected || t.collected_total != 0 || t.words == 0)
		fail("pool table %llu words (want 0), books %llu words",
		     (unsigned long long)t.collected_total, (unsigned long long)t.words);
	/* Freed with books queued and in flight: ASan sees their strings go. */
	for (unsigned i = 0; i < 20; i++) {
		char path[64];
		snprintf(path, sizeof path, "/gen/late%u.txt?size=100000&rate=50000", i);
		add(s, path, NULL);
	}
	ev_timer stop;
	struct freer none = {.s = NULL};
	ev_timer_init(&stop, on_free_timer, 0.3, 0.);
	stop.data = &none;
	ev_timer_start(loop, &stop);
	ev_run(loop, 0);
	jg_session_free(s);
	fprintf(stderr, "forget: %u failed, %u saved, %llu added, %d files\n", t.failed_seen,
	        t.saved_seen, (unsigned long long)st.added, count_files(out));
	if (count_files(out) != 2)
		fail("expected again.txt and again.txt.1 only, found %d files", count_files(out));
	return 0;
}

static int robots_ok, robots_done;

static void on_robots_book(struct jg_session *s, const struct jg_result *r, void *user)
{
	robots_ok += r->err == JG_OK;
	if (r->err != JG_OK)
		fail("%s: %s", r->url, r->error);
	robots_done++;
}

static void on_robots_idle(struct jg_session *s, void *user)
{
	ev_break(user, EVBREAK_ALL);
}

static int mode_robots(struct ev_loop *loop, struct jg_pool *pool, const char *out)
{
	if (fcntl(0, F_GETFD) < 0 && open("/dev/null", O_RDONLY) != 0)
		return 2; /* a stdin to watch */
	struct jg_options *o = jg_options_new();
	jg_options_set_output_dir(o, out);
	jg_options_set_pool(o, pool);
	if (jg_options_set_robots(o, 1) != JG_OK || jg_options_set_robots(NULL, 1) != JG_EINVAL)
		fail("jg_options_set_robots");
	struct jg_session *s, *busy = NULL;
	char why[JG_ERRBUF_SIZE];
	if (jg_session_new(&s, loop, o, why) != JG_OK) {
		fprintf(stderr, "jg_session_new: %s\n", why);
		return 2;
	}
	/* Refused before its robots.txt cache was opened: nothing of it is closed. */
	if (jg_session_new(&busy, loop, o, why) != JG_EBUSY || busy)
		fail("a second session over %s was not refused", out);
	if (fcntl(0, F_GETFD) < 0)
		fail("a refused session closed the host's stdin");
	jg_options_free(o);
	jg_session_on_book(s, on_robots_book, NULL);
	jg_session_on_idle(s, on_robots_idle, loop);
	add(s, "/gen/r1.txt", NULL);
	add(s, "/gen/r2.txt", NULL);
	add(s, "/gen/r3.txt", NULL);
	ev_run(loop, 0);
	jg_session_free(s);
	fprintf(stderr, "robots: %d ok of %d\n", robots_ok, robots_done);
	if (robots_ok != 3)
		fail("expected 3 books saved");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr,
		        "usage: embed_host timer|threads|two|free|forget|robots|nocount BASE_URL "
		        "OUT_DIR\n");
		return 2;
	}
	const char *mode = argv[1];
	base = argv[2];
	const char *out = argv[3];
	struct jg_pool *pool = NULL;
	char why[JG_ERRBUF_SIZE];
	/* Single-threaded so far: these workers start by a plain fork. */
	if (strcmp(mode, "threads") != 0 && strcmp(mode, "nocount") != 0 &&
	    jg_pool_new(&pool, 1, why) != JG_OK) {
		fprintf(stderr, "jg_pool_new: %s\n", why);
		return 2;
	}
	if (jg_global_init() != JG_OK)
		return 2;
	/* Never the default loop: a host may keep that for itself. */
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	int rc;
	if (strcmp(mode, "timer") == 0)
		rc = mode_timer(loop, pool, out);
	else if (strcmp(mode, "threads") == 0)
		rc = mode_threads(loop, out);
	else if (strcmp(mode, "two") == 0)
		rc = mode_two(loop, pool, out);
	else if (strcmp(mode, "free") == 0)
		rc = mode_free(loop, pool, out);
	else if (strcmp(mode, "forget") == 0)
		rc = mode_forget(loop, pool, out);
	else if (strcmp(mode, "robots") == 0)
		rc = mode_robots(loop, pool, out);
	else if (strcmp(mode, "nocount") == 0)
		rc = mode_nocount(loop, out);
	else
		rc = 2;
	if (pool && jg_pool_exec_starts(pool) != 0)
		fail("a single-threaded host's workers were started by exec");
	jg_pool_free(pool);
	ev_loop_destroy(loop);
	jg_global_cleanup();
	if (rc)
		return rc;
	fprintf(stderr, failures ? "%d failures\n" : "all good\n", failures);
	return failures ? 1 : 0;
}
