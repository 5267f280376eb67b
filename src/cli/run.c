/*
 * One run of the command line, from plan to seal: read the lists, plan
 * what an earlier run left (resume), queue, run the loop, collect the
 * counts, seal and report; checkpoints and signals on the way. It owns the
 * loop; the library is reached through juggle.h alone.
 */
#include "run.h"

#include "input.h"
#include "outfile.h"
#include "progress.h"
#include "report.h"
#include "resume.h"
#include "say.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* More books than this from the main Gutenberg site are worth a note. */
enum { GUTENBERG_NOTE_BOOKS = 5 };

struct cli {
	const struct cli_args *args;
	struct ev_loop *loop;       /* the run's own: the default loop */
	uint64_t other_shards;     /* URLs left to the other shards */
	struct entry *entries;     /* this shard's URL lines, in list order */
	const char **texts;        /* their texts, for the plan */
	struct jg_prior *plan;     /* resume's plan: a prior per entry (use 0: none) */
	size_t n_entries, cap_entries;
	uint64_t list_hash, list_urls; /* the whole list's fingerprint */
	uint64_t list_order;       /* the same, but depending on the order */
	struct jg_resume resume;
	int requeued;              /* queued a second time, without the snapshot */
	int resume_opened;
	ev_timer checkpoint_timer;
	int checkpointing;         /* counting is held until the pool is quiet */
	struct jg_pool *pool;
	const struct jg_counts *collected; /* the pool's table, once whole */
	struct jg_session *session;
	struct jg_report report;
	struct progress progress;
	ev_timer progress_timer;   /* feeds the progress line from the session's figures */
	ev_prepare journal;        /* writes the iteration's manifest records */
	ev_signal winch;           /* the terminal's new size, for the line */
	double started;
	uint64_t accepted, duplicates;
	int interrupted;           /* the signal that stopped the run, or 0 */
	int write_failed;          /* a result file could not be written */
	unsigned restarts_seen;    /* worker restarts told of (-v) */
	struct outfile counts_out, failed_out;
};

/* A URL line of the list, read before anything is queued. */
struct entry {
	char *text;
	char *name;                /* the file name its list line gave, or NULL */
	const char *source;        /* "argument", "stdin" or the file's name */
	unsigned long line;
	uint64_t index;            /* position among the whole list's URLs */
};


static void input_error(struct cli *c, const char *source, unsigned long line, const char *text,
                        const char *why)
{
	jg_report_input_error(&c->report, source, line, text, why);
	jg_resume_input_error(&c->resume, source, line, text, why);
}

/*
 * The whole list is read before anything is queued: whether an earlier
 * run's count snapshot still holds depends on the list as a whole.
 */
static void on_input_url(void *ctx, const char *source, unsigned long line, const char *text,
                         const char *name)
{
	struct cli *c = ctx;
	size_t len = strlen(text);
	/* Order-free, so shards and reruns agree however the list is cut. */
	uint64_t h = jg_shard_hash(text, len);
	c->list_hash += h;
	/* File names follow the order URLs are added in (name clashes get
	 * .1, .2 by position): resuming believes names only in this order. */
	c->list_order = (c->list_order ^ h) * 0x100000001b3ULL;
	uint64_t index = c->list_urls++;
	if (c->args->shard.n && jg_shard_of(text, len, c->args->shard.n) != c->args->shard.k) {
		c->other_shards++;
		return;
	}
	if (c->n_entries == c->cap_entries) {
		size_t cap = c->cap_entries ? c->cap_entries * 2 : 1024;
		struct entry *e = realloc(c->entries, cap * sizeof *e);
		if (!e) {
			input_error(c, source, line, text, "out of memory");
			return;
		}
		c->entries = e;
		c->cap_entries = cap;
	}
	struct entry *e = &c->entries[c->n_entries];
	e->name = NULL;
	if (!(e->text = strdup(text)) || (name && !(e->name = strdup(name)))) {
		free(e->text);
		input_error(c, source, line, text, "out of memory");
		return;
	}
	e->source = source;
	e->line = line;
	e->index = index;
	c->n_entries++;
}

static void on_input_error(void *ctx, const char *source, unsigned long line, const char *why)
{
	input_error(ctx, source, line, NULL, why);
}

static void on_book(struct jg_session *s, const struct jg_result *r, void *user);
static void on_idle(struct jg_session *s, void *user);

/* Queues this shard's URLs, each with what an earlier run left of it. */
static void queue_entries(struct cli *c)
{
	for (size_t i = 0; i < c->n_entries; i++) {
		struct entry *e = &c->entries[i];
		const struct jg_prior *p = c->plan[i].use ? &c->plan[i] : NULL;
		uint64_t refused = jg_session_priors_refused(c->session);
		int rc = e->name ? jg_session_add_named(c->session, e->text, e->name, p, sizeof *p, e)
		         : p     ? jg_session_add_prior(c->session, e->text, p, e)
		                 : jg_session_add_url(c->session, e->text, e);
		if (jg_session_priors_refused(c->session) != refused)
			jg_resume_refused(&c->resume, e->text);
		if (rc == JG_OK)
			c->accepted++;
		else if (rc == JG_EDUPLICATE)
			c->duplicates++; /* downloaded once, as asked */
		else if (!c->requeued && rc == JG_ENAME) {
			char why[600];
			snprintf(why, sizeof why, "file name '%.400s' is another book's, or nothing is left "
			         "of it once made safe", e->name);
			input_error(c, e->source, e->line, e->text, why);
		} else if (!c->requeued)
			input_error(c, e->source, e->line, e->text, jg_strerror(rc));
	}
}

/*
 * A book the snapshot sealed did not keep its file name (a URL added
 * before it took the name): the snapshot holds counts of a book that
 * will be fetched again. Nothing has run yet, so start over with a new
 * session that counts every saved book from its file instead.
 */
static int requeue_without_snapshot(struct cli *c, struct ev_loop *loop)
{
	char why[JG_ERRBUF_SIZE];
	jg_session_on_book(c->session, NULL, NULL); /* its cancellations are no news */
	jg_session_free(c->session);
	jg_resume_drop_snapshot(&c->resume, c->texts, c->n_entries, c->plan);
	if (jg_session_new(&c->session, loop, c->args->opts, why) != JG_OK) {
		jg_say(stderr, "juggle: %s\n", why);
		return -1;
	}
	jg_session_on_book(c->session, on_book, c);
	jg_session_on_idle(c->session, on_idle, c);
	c->accepted = c->duplicates = 0;
	c->requeued = 1; /* bad lines were reported the first time */
	jg_resume_claim_files(&c->resume, c->session);
	queue_entries(c);
	return 0;
}

static void read_inputs(struct cli *c, int argc, char **argv)
{
	struct jg_input_sink sink = {on_input_url, on_input_error, c};
	for (int i = c->args->first_url; i < argc; i++) {
		char *text = jg_input_trim(argv[i]);
		if (*text)
			on_input_url(c, "argument", (unsigned long)(i - c->args->first_url + 1), text, NULL);
	}
	for (size_t i = 0; i < c->args->n_lists; i++) {
		const char *name = c->args->lists[i];
		int is_stdin = strcmp(name, "-") == 0;
		FILE *fp = is_stdin ? stdin : fopen(name, "r");
		if (!fp) {
			char why[256];
			snprintf(why, sizeof why, "cannot open URL list: %s", strerror(errno));
			jg_say(stderr, "juggle: %s: %s\n", name, why);
			c->report.input_errors++;
			continue;
		}
		jg_input_read(fp, is_stdin ? "stdin" : name, &sink);
		if (ferror(fp)) {
			jg_say(stderr, "juggle: %s: read error: %s\n", name, strerror(errno));
			c->report.input_errors++;
		}
		if (!is_stdin)
			fclose(fp);
	}
}

static void on_book(struct jg_session *s, const struct jg_result *r, void *user)
{
	struct cli *c = user;
	const struct entry *e = r->user;
	struct jg_result res = *r;
	struct jg_word_count top[JG_MF_TOP_MAX];
	static char words[JG_MF_TOP_WORDS]; /* workers send words of <= 1024 bytes */
	struct timespec mtime;
	int known = jg_session_result_mtime(s, r, &mtime) == JG_OK;
	jg_resume_book(&c->resume, e->text, e->index, &res, known ? &mtime : NULL, top, words,
	               sizeof words);
	/* "argument" and "stdin" are no list files: arguments have no line. */
	int listed = strcmp(e->source, "argument") != 0;
	struct json_origin from = {e->index, listed ? e->source : NULL, listed ? e->line : 0};
	jg_report_book(&c->report, &res, &from);
	unsigned restarts = c->pool ? jg_pool_restarts(c->pool) : 0;
	if (restarts != c->restarts_seen)
		jg_report_worker_restart(&c->report, c->restarts_seen = restarts);
}

static void on_event(struct jg_session *s, const struct jg_event *e, void *user)
{
	struct cli *c = user;
	jg_report_event(&c->report, e);
}

static void on_idle(struct jg_session *s, void *user)
{
	struct cli *c = user;
	ev_break(c->loop, EVBREAK_ONE);
}

/* The pool's table is whole: the loop stops, and the table is sealed and
 * written once it has (a callback of the loop would hold it up). */
static void on_counts(struct jg_pool *pool, const struct jg_counts *pool_counts, void *user)
{
	struct cli *c = user;
	c->collected = pool_counts;
	ev_break(c->loop, EVBREAK_ONE);
}

/* All of `from` to `to`. 0, or -1 with errno set. */
static int copy_file(int from, int to)
{
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(from, buf, sizeof buf);
		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		for (const char *p = buf; n > 0;) {
			ssize_t w = write(to, p, (size_t)n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -1;
			p += w;
			n -= w;
		}
	}
}

/* --counts FILE: the sealed snapshot holds the same table in the same
 * form, so it is copied; sorting and writing it again was half the time
 * from the last book to the end of a run (the KJV x10: 32,000 words). */
static int write_counts_file(struct cli *c, const struct jg_counts *counts)
{
	int out = fileno(c->counts_out.f);
	int sealed = jg_resume_open_sealed(&c->resume);
	if (sealed >= 0) {
		int rc = copy_file(sealed, out);
		int saved = errno;
		close(sealed);
		errno = saved;
		return rc;
	}
	return jg_counts_write_tsv_fd(counts, out) == JG_OK ? 0 : -1;
}

static void write_counts(struct cli *c)
{
	/* The books kept from earlier runs are in the snapshot, not the pool. */
	const struct jg_counts *counts = jg_resume_seal(&c->resume, c->collected, 1);
	if (!counts) {
		c->write_failed = 1; /* the snapshot could not be sealed: said why */
		return;
	}
	jg_report_counts(&c->report, counts, c->args->top);
	if (c->counts_out.f && (write_counts_file(c, counts) < 0 ||
	                        outfile_commit(&c->counts_out) < 0)) {
		jg_say(stderr, "juggle: --counts %s: cannot write the counts: %s\n", c->args->counts_path,
		       strerror(errno));
		c->write_failed = 1;
	}
}

/* Every book is counted: gather the workers' tables and report them. */
/*
 * A checkpoint: hold books back from the workers, and once the pool is
 * quiet its table is exactly that of the books recorded so far: seal it,
 * and let the books go again. A run killed later counts again only what
 * it counted after this.
 */
static void on_checkpoint_sealed(void *ctx)
{
	struct cli *c = ctx;
	c->checkpointing = 0;
	if (c->session)
		jg_session_hold_counting(c->session, 0);
}

static void on_checkpoint_counts(struct jg_pool *pool, const struct jg_counts *counts, void *user)
{
	struct cli *c = user;
	/* Held until the seal is written: a child writes it, off the loop. */
	jg_resume_checkpoint(&c->resume, c->loop, counts, on_checkpoint_sealed, c);
}

static void on_checkpoint(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cli *c = w->data;
	if (c->checkpointing || !c->resume.writing)
		return;
	c->checkpointing = 1;
	jg_session_hold_counting(c->session, 1);
	if (jg_pool_collect(c->pool, on_checkpoint_counts, c) != JG_OK) {
		c->checkpointing = 0;
		jg_session_hold_counting(c->session, 0);
	}
}

static void start_checkpoints(struct cli *c, struct ev_loop *loop)
{
	if (c->args->checkpoint <= 0 || (c->args->count_flags & JG_COUNT_OFF) || !c->pool)
		return;
	ev_timer_init(&c->checkpoint_timer, on_checkpoint, c->args->checkpoint, c->args->checkpoint);
	c->checkpoint_timer.data = c;
	ev_timer_start(loop, &c->checkpoint_timer);
	ev_unref(loop); /* checkpoints alone must not keep the run going */
}

static void stop_checkpoints(struct cli *c, struct ev_loop *loop)
{
	if (!ev_is_active(&c->checkpoint_timer))
		return;
	ev_ref(loop);
	ev_timer_stop(loop, &c->checkpoint_timer);
}

static void collect_counts(struct cli *c, struct ev_loop *loop)
{
	stop_checkpoints(c, loop);
	if (c->interrupted || (c->args->count_flags & JG_COUNT_OFF) || !c->pool)
		return;
	/* One collection at a time: a checkpoint's ends first. */
	while (c->checkpointing && !c->interrupted)
		ev_run(loop, EVRUN_ONCE);
	if (c->interrupted)
		return;
	if (jg_pool_collect(c->pool, on_counts, c) != JG_OK)
		return;
	if (!c->collected)
		ev_run(loop, 0);
	if (c->collected)
		write_counts(c);
}

/* Before the loop waits: the records of the books that finished in this
 * iteration go to the manifest together (resume.h says what a kill
 * loses in between). */
static void on_journal(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct cli *c = w->data;
	jg_resume_flush(&c->resume);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct cli *c = w->data;
	c->interrupted = w->signum;
	c->report.interrupted = 1;
	ev_break(loop, EVBREAK_ONE);
}

/* The progress line, redrawn from the session's figures. */
static void on_progress(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cli *c = w->data;
	struct jg_stats st;
	jg_session_stats(c->session, &st);
	uint64_t done = st.ok + st.failed;
	/* A book left is with the workers (its bytes are all in), in flight
	 * with a length it gave, or of a size nobody has said yet. */
	uint64_t left = c->accepted > done ? c->accepted - done : 0;
	uint64_t sized = st.counting + st.active_sized;
	struct progress_figures f = {
		.done = done,
		.total = c->accepted,
		.bytes = st.bytes,
		.expected = st.bytes_expected,
		.unsized = left > sized ? left - sized : 0,
		.active = st.active,
		.waiting = st.waiting,
		.failed = st.failed,
	};
	progress_update(&c->progress, &f, ev_now(loop));
}

static void on_winch(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct cli *c = w->data;
	progress_resized(&c->progress);
}

/* Progress alone must not keep the loop running: its watchers are
 * unreferenced. */
static void start_progress(struct cli *c, struct ev_loop *loop)
{
	if (!c->progress.shown)
		return;
	ev_timer_init(&c->progress_timer, on_progress, 0.2, 0.2);
	c->progress_timer.data = c;
	ev_timer_start(loop, &c->progress_timer);
	ev_unref(loop);
	ev_signal_init(&c->winch, on_winch, SIGWINCH);
	c->winch.data = c;
	ev_signal_start(loop, &c->winch);
	ev_unref(loop);
}

static void stop_progress(struct cli *c, struct ev_loop *loop)
{
	if (ev_is_active(&c->progress_timer)) {
		ev_ref(loop);
		ev_timer_stop(loop, &c->progress_timer);
	}
	if (ev_is_active(&c->winch)) {
		ev_ref(loop);
		ev_signal_stop(loop, &c->winch);
	}
}

/*
 * The main Gutenberg site gets one request at a time, 2 s apart, unless
 * the user chose --wait or --per-host: say so once when that makes a run
 * long, and what is faster (its terms send bulk downloads to mirrors).
 */
static void note_gutenberg_pace(const struct cli *c)
{
	uint64_t n = jg_session_paced_by_default(c->session);
	if (!c->args->quiet && n > GUTENBERG_NOTE_BOOKS)
		jg_say(stderr, "juggle: www.gutenberg.org asks automated tools for one request at a "
		       "time, 2 s apart: %llu books take at least %llu s; a mirror (--mirror URL) "
		       "is faster\n", (unsigned long long)n, (unsigned long long)(2 * (n - 1)));
}

/*
 * The proxy variables are honoured (jg_options_read_proxy_env), all but
 * HTTP_PROXY, as in curl: a CGI program gets it from a request's Proxy:
 * header, so it cannot be trusted. That must not pass silently either.
 */
static void warn_ignored_proxy(const struct cli_args *a)
{
	const char *upper = getenv("HTTP_PROXY"), *lower = getenv("http_proxy");
	if (a->proxy_given || !upper || !*upper || (lower && *lower))
		return;
	jg_say(stderr, "juggle: warning: HTTP_PROXY is set but not used: as curl, juggle takes "
	       "the proxy of http:// URLs from http_proxy (lower case) or all_proxy only\n");
}

/* What resuming has to say: printed as the run's own lines. */
static void on_resume_notice(void *ctx, const char *text)
{
	struct cli *c = ctx;
	progress_clear(&c->progress);
	jg_say(stderr, "juggle: %s\n", text);
}

/* The hosts' figures, kept past the session (their strings copied). NULL
 * with *n = 0 when there are none or memory ran out: the report goes on. */
static struct jg_host_stats *copy_hosts(const struct jg_session *s, size_t *n)
{
	size_t count = jg_session_host_count(s);
	struct jg_host_stats *v = calloc(count ? count : 1, sizeof *v);
	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		jg_session_host_stats(s, i, &v[i], sizeof v[i]);
		v[i].name = strdup(v[i].name);
		v[i].robots = strdup(v[i].robots);
		*n = i + 1;
		if (!v[i].name || !v[i].robots)
			break;
	}
	return v;
}

static void free_hosts(struct jg_host_stats *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)v[i].name);
		free((char *)v[i].robots);
	}
	free(v);
}

static int run(struct cli *c, struct ev_loop *loop)
{
	/* SIGHUP (the terminal went away) ends the run as TERM does: files
	 * tidied, journal and report written. */
	ev_signal sigint, sigterm, sighup;
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_init(&sighup, on_signal, SIGHUP);
	sigint.data = sigterm.data = sighup.data = c;
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sighup);
	ev_unref(loop);
	ev_unref(loop);
	ev_prepare_init(&c->journal, on_journal);
	c->journal.data = c;
	ev_prepare_start(loop, &c->journal);
	ev_unref(loop); /* it keeps no run going */
	start_progress(c, loop);
	if (c->accepted > 0) {
		start_checkpoints(c, loop);
		ev_run(loop, 0);
		collect_counts(c, loop);
	}
	stop_checkpoints(c, loop);
	stop_progress(c, loop);
	struct jg_stats st;
	jg_session_stats(c->session, &st);
	size_t n_hosts = 0;
	struct jg_host_stats *hosts = copy_hosts(c->session, &n_hosts);
	struct jg_settings settings;
	jg_options_settings(c->args->opts, &settings, sizeof settings);
	/* Whatever did not finish is reported as cancelled. */
	jg_session_free(c->session);
	c->session = NULL;
	ev_ref(loop);
	ev_ref(loop);
	ev_ref(loop);
	ev_prepare_stop(loop, &c->journal);
	jg_resume_flush(&c->resume);
	ev_signal_stop(loop, &sigint);
	ev_signal_stop(loop, &sigterm);
	ev_signal_stop(loop, &sighup);
	struct json_run measured = {
		.wall = ev_time() - c->started,
		.retries = st.retries,
		.worker_restarts = c->pool ? jg_pool_restarts(c->pool) : 0,
		.engine = st.engine,
		.threads = st.threads,
		.stall_max = st.stall_max,
		.stall_p99 = st.stall_p99,
		.loop_iterations = st.loop_iterations,
		.settings = &settings,
		.hosts = hosts,
		.n_hosts = n_hosts,
	};
	int io_failed = jg_report_finish(&c->report, &measured) < 0;
	free_hosts(hosts, n_hosts);
	if (c->failed_out.f && outfile_commit(&c->failed_out) < 0)
		io_failed = 1;
	if (c->interrupted)
		return 128 + c->interrupted; /* as a shell reports a death by it */
	if (io_failed || c->write_failed || c->report.failed || c->report.input_errors)
		return EXIT_SOME_FAILED;
	return EXIT_ALL_OK;
}

/*
 * Every transfer holds a socket: -j 2000 needs some 2,000 descriptors, and
 * the soft limit is often 1024. Raise it to the hard limit, as servers do;
 * warn when even that is short, since transfers would then fail to connect.
 */
static void raise_fd_limit(const struct cli *c)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* A socket per transfer, and with --no-count the file it writes; the
	 * workers' pipes; some slack for c-ares, the report and stdio. */
	rlim_t per = (c->args->count_flags & JG_COUNT_OFF) ? 2 : 1;
	rlim_t need = per * (c->args->jobs ? c->args->jobs : 64) + 2 * (c->args->workers ? c->args->workers : 16) + 64;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		jg_say(stderr, "juggle: warning: -j %u needs about %llu file descriptors, "
		        "but ulimit -n allows %llu\n", c->args->jobs ? c->args->jobs : 64, (unsigned long long)need,
		        (unsigned long long)rl.rlim_cur);
}

int cli_run(const struct cli_args *args, int argc, char **argv)
{
	struct cli c;
	memset(&c, 0, sizeof c);
	c.args = args;
	raise_fd_limit(&c);
	/* Workers are forked first: before curl or anything else could have
	 * started a thread. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char perr[JG_ERRBUF_SIZE];
	/* Without counting there is nothing for workers to do: the session
	 * then writes each body to its file as it arrives. */
	if (!(c.args->count_flags & JG_COUNT_OFF) &&
	    jg_pool_new(&c.pool, c.args->workers ? c.args->workers : (unsigned)(cpus > 0 ? cpus : 1), perr) != JG_OK) {
		jg_say(stderr, "juggle: %s\n", perr);
		return EXIT_USAGE;
	}
	jg_options_set_pool(c.args->opts, c.pool);
	jg_options_set_counting(c.args->opts, c.args->count_flags, c.args->top);
	if (jg_global_init() != JG_OK) {
		jg_say(stderr, "juggle: cannot initialise libcurl or c-ares\n");
		return EXIT_USAGE;
	}
	struct ev_loop *loop = c.loop = ev_default_loop(EVFLAG_AUTO);
	char why[JG_ERRBUF_SIZE];
	int status = EXIT_USAGE;
	/* The files the user named are made first: a path that cannot be
	 * written stops the run before anything is fetched or created. */
	c.started = ev_time();
	progress_init(&c.progress, c.args->quiet, c.started);
	if (jg_report_init(&c.report, &c.progress, c.args->quiet, c.args->json) < 0 ||
	    jg_report_set_mirrors(&c.report, c.args->mirrors, c.args->n_mirrors) < 0 ||
	    outfile_open(&c.counts_out, "--counts", c.args->counts_path) < 0 ||
	    outfile_open(&c.failed_out, "--failed", c.args->failed_path) < 0)
		goto out;
	c.report.failed_list = c.failed_out.f;
	c.report.verbose = c.args->verbose;
	c.report.running = 1;
	if (jg_session_new(&c.session, loop, c.args->opts, why) != JG_OK) {
		jg_say(stderr, "juggle: %s\n", why);
		goto out;
	}
	jg_session_on_book(c.session, on_book, &c);
	jg_session_on_idle(c.session, on_idle, &c);
	if (c.args->verbose)
		jg_session_on_event(c.session, on_event, &c);
	c.resume_opened = 1;
	if (jg_resume_open(&c.resume, c.args->outdir ? c.args->outdir : "texts", c.args->count_flags,
	                   c.args->refresh, on_resume_notice, &c) < 0)
		goto out;
	/* A child may seal checkpoints unless threads run (fork() then is
	 * no place for malloc). */
	c.resume.may_fork = c.args->engine == JG_ENGINE_LOOP;
	read_inputs(&c, argc, argv);
	c.texts = malloc((c.n_entries ? c.n_entries : 1) * sizeof *c.texts);
	c.plan = calloc(c.n_entries ? c.n_entries : 1, sizeof *c.plan);
	if (!c.texts || !c.plan) {
		jg_say(stderr, "juggle: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < c.n_entries; i++)
		c.texts[i] = c.entries[i].text;
	struct jg_list_id list = {c.list_hash, c.list_urls, c.list_order, c.args->shard.k,
	                          c.args->shard.n};
	jg_resume_plan(&c.resume, &list, c.texts, c.n_entries, c.plan);
	jg_resume_claim_files(&c.resume, c.session);
	queue_entries(&c);
	if (c.resume.snapshot_refused && requeue_without_snapshot(&c, loop) < 0)
		goto out;
	jg_resume_start(&c.resume, c.accepted);
	if (c.args->shard.n && !c.args->quiet)
		jg_say(stderr, "juggle: shard %u/%u: %llu URLs here, %llu in other shards\n",
		        c.args->shard.k, c.args->shard.n, (unsigned long long)c.accepted,
		        (unsigned long long)c.other_shards);
	jg_report_set_total(&c.report, c.accepted);
	note_gutenberg_pace(&c);
	warn_ignored_proxy(c.args);
	status = run(&c, loop);
	if (!c.args->quiet && (c.resume.kept || c.resume.recounted || c.resume.revalidated)) {
		char kept[96], again[32], same[32];
		jg_say(stderr, "juggle: resumed %s: %s kept, %s counted again from their files, %s not "
		       "modified (304)\n", c.args->outdir ? c.args->outdir : "texts",
		       jg_count_of(c.resume.kept, "book", "books", kept),
		       jg_count_text(c.resume.recounted, again), jg_count_text(c.resume.revalidated, same));
	}
out:
	jg_session_free(c.session); /* NULL after a run */
	jg_report_fini(&c.report);
	outfile_close(&c.counts_out);
	outfile_close(&c.failed_out);
	if (c.resume_opened)
		jg_resume_close(&c.resume);
	jg_pool_free(c.pool);
	for (size_t i = 0; i < c.n_entries; i++) {
		free(c.entries[i].text);
		free(c.entries[i].name);
	}
	free(c.entries);
	free(c.texts);
	free(c.plan);
	ev_loop_destroy(loop);
	jg_global_cleanup();
	return status;
}
