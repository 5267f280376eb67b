/*
 * juggle: the command line, a thin client of the library in juggle.h.
 * Parse arguments, create a session on the default loop, queue the URLs,
 * run the loop, report, exit.
 */
#include "juggle.h"
#include "say.h"

#include "input.h"
#include "merge.h"
#include "report.h"
#include "resume.h"
#include "shard.h"

#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>


enum exit_code { EXIT_ALL_OK = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

struct cli {
	struct jg_options *opts;
	const char **lists;
	size_t n_lists;
	int quiet;
	const char *json;
	const char *counts_path;
	unsigned workers;
	unsigned count_flags;
	unsigned top;
	enum jg_engine engine;
	unsigned threads;
	unsigned jobs;
	struct jg_shard shard;
	uint64_t other_shards;     /* URLs left to the other shards */
	const char *outdir;
	int refresh;
	struct entry *entries;     /* this shard's URL lines, in list order */
	size_t n_entries, cap_entries;
	uint64_t list_hash, list_urls; /* the whole list's fingerprint */
	uint64_t list_order;       /* the same, but depending on the order */
	struct jg_resume resume;
	int requeued;              /* queued a second time, without the snapshot */
	int resume_opened;
	double checkpoint;         /* seconds between count seals; 0: at the end */
	ev_timer checkpoint_timer;
	int checkpointing;         /* counting is held until the pool is quiet */
	struct jg_pool *pool;
	int collected;
	struct jg_session *session;
	struct jg_report report;
	uint64_t accepted, duplicates;
	int interrupted;
};

/* A URL line of the list, read before anything is queued. */
struct entry {
	char *text;
	const char *source;        /* "argument", "stdin" or the file's name */
	unsigned long line;
	uint64_t index;            /* position among the whole list's URLs */
};

static const char usage_text[] =
"Usage: juggle [OPTION]... [URL | EBOOK-NUMBER]...\n"
"Download every URL concurrently on one thread and save each body under\n"
"its URL's last path segment. A bare number N means Project Gutenberg\n"
"ebook N: MIRROR/cache/epub/N/pgN.txt.\n"
"\n"
"Input:\n"
"  -i, --input FILE         read URLs from FILE, one per line ('-' = stdin;\n"
"                           '#' starts a comment line); may be repeated\n"
"      --mirror URL         mirror for ebook numbers [https://www.gutenberg.org]\n"
"Counting:\n"
"  -w, --workers N          worker processes that save and count [online CPUs]\n"
"      --split MODE         words: Unicode letters and digits (default);\n"
"                           whitespace: ASCII white space, as wc -w\n"
"      --keep-boilerplate   count the Project Gutenberg header and licence too\n"
"      --top N              most frequent words shown per book and in all [10]\n"
"      --counts FILE        write every word as word<TAB>count, most frequent first\n"
"      --no-count           save only, count nothing\n"
"Output:\n"
"  -o, --output DIR         directory for the books [texts]\n"
"      --json FILE          write a JSON report of every URL to FILE\n"
"  -q, --quiet              no progress line; summary only when something failed\n"
"Network:\n"
"  -j, --jobs N             concurrent transfers [64]\n"
"      --per-host N         concurrent transfers per host (name and port) [8]\n"
"      --connect-timeout S  seconds to connect [30]\n"
"      --stall-timeout S    abort when no byte arrived for S seconds [60]\n"
"      --max-size BYTES     largest decoded body, at most 1020M; K, M, G [256M]\n"
"      --retries N          retries on transient failures [3]\n"
"      --retry-delay S      first retry delay, doubled each time [1]\n"
"      --max-redirects N    redirects followed per URL [10]\n"
"      --max-buffer MIB     memory for bodies and their decoders; past it a body\n"
"                           goes on in its file and admission pauses [256]\n"
"      --cacert FILE        CA certificates to verify TLS peers with\n"
"      --resolve H:P:ADDR   use ADDR for host H port P, as curl --resolve\n"
"      --dns-servers LIST   DNS servers ADDR[:PORT],... instead of the system's\n"
"Sharding and resuming (for array jobs of a scheduler):\n"
"      --shard K/N          only the URLs whose hash falls in shard K of N (0-based);\n"
"                           auto/N: K from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX\n"
"      --checkpoint S       seal the counts so far every S seconds, so that a\n"
"                           killed run need not count its books again [300]\n"
"      --refresh            revalidate books saved by an earlier run with a\n"
"                           conditional GET (a 304 keeps the file); without it\n"
"                           they are kept as they are, with no request\n"
"  A run records what it saved in DIR/.juggle/manifest; run again over the same\n"
"  DIR, it fetches only what is missing or failed. 'juggle merge --help' tells\n"
"  how to combine the shards' directories into one result.\n"
"Engine (for comparisons; the default is the one to use):\n"
"      --engine NAME        loop: every transfer on this one thread (default);\n"
"                           threads: blocking transfers in a thread pool;\n"
"                           serial: one blocking transfer at a time\n"
"      --threads N          threads of the threads engine [as -j]\n"
"Other:\n"
"  -h, --help               show this help\n"
"  -V, --version            show versions of juggle and its libraries\n"
"\n"
"Examples:\n"
"  juggle 84 1342 2701                       three books from gutenberg.org\n"
"  juggle -j 200 --per-host 50 -i urls.txt -o books --json report.json\n"
"  juggle --mirror http://127.0.0.1:8080 -i ids.txt\n"
"\n"
"Exit status: 0 when every URL was saved, 1 when any failed or any input\n"
"line was bad, 2 on a usage error, 130 when interrupted.\n";

__attribute__((format(printf, 1, 2), noreturn))
static void usage_error(const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	jg_say(stderr, "juggle: %s\n", text ? text : "usage error");
	fputs("Try 'juggle --help' for more information.\n", stderr);
	free(text);
	exit(EXIT_USAGE);
}

static double parse_number(const char *opt, const char *arg, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < lo || v > hi)
		usage_error("%s: invalid value '%s' (expected %g to %g)", opt, arg, lo, hi);
	return v;
}

static unsigned parse_count(const char *opt, const char *arg, unsigned lo, unsigned hi)
{
	double v = parse_number(opt, arg, lo, hi);
	if (v != floor(v))
		usage_error("%s: expected a whole number, got '%s'", opt, arg);
	return (unsigned)v;
}

static uint64_t parse_size(const char *opt, const char *arg)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	uint64_t mult = 1;
	switch (*end) {
	case 'k': case 'K': mult = 1ULL << 10; end++; break;
	case 'm': case 'M': mult = 1ULL << 20; end++; break;
	case 'g': case 'G': mult = 1ULL << 30; end++; break;
	default: break;
	}
	if (errno || end == arg || *end || v == 0 || v > UINT64_MAX / mult)
		usage_error("%s: invalid size '%s'", opt, arg);
	return v * mult;
}

static void check(int rc, const char *opt, const char *arg)
{
	if (rc != JG_OK)
		usage_error("%s: invalid value '%s'", opt, arg);
}

enum long_only {
	OPT_MIRROR = 256, OPT_JSON, OPT_PER_HOST, OPT_CONNECT_TIMEOUT, OPT_STALL_TIMEOUT,
	OPT_MAX_SIZE, OPT_RETRIES, OPT_RETRY_DELAY, OPT_MAX_REDIRECTS, OPT_MAX_BUFFER,
	OPT_CACERT, OPT_RESOLVE, OPT_DNS_SERVERS, OPT_SPLIT, OPT_KEEP_BOILERPLATE, OPT_TOP,
	OPT_COUNTS, OPT_NO_COUNT, OPT_ENGINE, OPT_THREADS, OPT_SHARD, OPT_REFRESH, OPT_CHECKPOINT,
};

static const struct option long_options[] = {
	{"input", required_argument, NULL, 'i'},
	{"mirror", required_argument, NULL, OPT_MIRROR},
	{"output", required_argument, NULL, 'o'},
	{"json", required_argument, NULL, OPT_JSON},
	{"quiet", no_argument, NULL, 'q'},
	{"jobs", required_argument, NULL, 'j'},
	{"per-host", required_argument, NULL, OPT_PER_HOST},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT},
	{"max-size", required_argument, NULL, OPT_MAX_SIZE},
	{"retries", required_argument, NULL, OPT_RETRIES},
	{"retry-delay", required_argument, NULL, OPT_RETRY_DELAY},
	{"max-redirects", required_argument, NULL, OPT_MAX_REDIRECTS},
	{"max-buffer", required_argument, NULL, OPT_MAX_BUFFER},
	{"cacert", required_argument, NULL, OPT_CACERT},
	{"resolve", required_argument, NULL, OPT_RESOLVE},
	{"dns-servers", required_argument, NULL, OPT_DNS_SERVERS},
	{"workers", required_argument, NULL, 'w'},
	{"split", required_argument, NULL, OPT_SPLIT},
	{"keep-boilerplate", no_argument, NULL, OPT_KEEP_BOILERPLATE},
	{"top", required_argument, NULL, OPT_TOP},
	{"counts", required_argument, NULL, OPT_COUNTS},
	{"no-count", no_argument, NULL, OPT_NO_COUNT},
	{"engine", required_argument, NULL, OPT_ENGINE},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"shard", required_argument, NULL, OPT_SHARD},
	{"refresh", no_argument, NULL, OPT_REFRESH},
	{"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void print_version(void)
{
	char libs[512];
	jg_library_versions(libs, sizeof libs);
	printf("juggle %s\n%s\n", jg_version(), libs);
}

static void set_option(struct cli *c, int opt, const char *arg)
{
	struct jg_options *o = c->opts;
	switch (opt) {
	case 'o':
		check(jg_options_set_output_dir(o, arg), "--output", arg);
		c->outdir = arg;
		break;
	case 'j':
		c->jobs = parse_count("--jobs", arg, 1, 100000);
		check(jg_options_set_jobs(o, c->jobs), "--jobs", arg);
		break;
	case OPT_MIRROR: check(jg_options_set_mirror(o, arg), "--mirror", arg); break;
	case OPT_PER_HOST:
		check(jg_options_set_per_host(o, parse_count("--per-host", arg, 1, 100000)), "--per-host", arg);
		break;
	case OPT_CONNECT_TIMEOUT:
		check(jg_options_set_connect_timeout(o, parse_number("--connect-timeout", arg, 0, 86400)),
		      "--connect-timeout", arg);
		break;
	case OPT_STALL_TIMEOUT:
		check(jg_options_set_stall_timeout(o, parse_number("--stall-timeout", arg, 0.001, 86400)),
		      "--stall-timeout", arg);
		break;
	case OPT_MAX_SIZE: check(jg_options_set_max_size(o, parse_size("--max-size", arg)), "--max-size", arg); break;
	case OPT_RETRIES:
		check(jg_options_set_retries(o, parse_count("--retries", arg, 0, 100)), "--retries", arg);
		break;
	case OPT_RETRY_DELAY:
		check(jg_options_set_retry_delay(o, parse_number("--retry-delay", arg, 0, 3600)), "--retry-delay", arg);
		break;
	case OPT_MAX_REDIRECTS:
		check(jg_options_set_max_redirects(o, parse_count("--max-redirects", arg, 0, 50)),
		      "--max-redirects", arg);
		break;
	case OPT_MAX_BUFFER: {
		unsigned mib = parse_count("--max-buffer", arg, 1, 1u << 20);
		check(jg_options_set_max_buffer(o, (uint64_t)mib << 20), "--max-buffer", arg);
		break;
	}
	case OPT_CACERT: check(jg_options_set_cacert(o, arg), "--cacert", arg); break;
	case OPT_RESOLVE:
		if (jg_options_add_resolve(o, arg) != JG_OK)
			usage_error("--resolve: expected HOST:PORT:ADDR[,ADDR]..., got '%s'", arg);
		break;
	case OPT_DNS_SERVERS: check(jg_options_set_dns_servers(o, arg), "--dns-servers", arg); break;
	default: usage_error("%s", "unknown option");
	}
}

static void parse_args(struct cli *c, int argc, char **argv)
{
	int opt;
	c->lists = calloc((size_t)argc, sizeof *c->lists);
	if (!c->lists) {
		jg_say(stderr, "juggle: out of memory\n");
		exit(EXIT_USAGE);
	}
	while ((opt = getopt_long(argc, argv, "i:o:qj:w:hV", long_options, NULL)) != -1) {
		switch (opt) {
		case 'i': c->lists[c->n_lists++] = optarg; break;
		case 'w': c->workers = parse_count("--workers", optarg, 1, 256); break;
		case OPT_SPLIT:
			if (strcmp(optarg, "whitespace") == 0)
				c->count_flags |= JG_COUNT_WHITESPACE;
			else if (strcmp(optarg, "words") != 0)
				usage_error("--split: expected 'words' or 'whitespace', got '%s'", optarg);
			break;
		case OPT_KEEP_BOILERPLATE: c->count_flags |= JG_COUNT_KEEP_BOILERPLATE; break;
		case OPT_NO_COUNT: c->count_flags |= JG_COUNT_OFF; break;
		case OPT_TOP: c->top = parse_count("--top", optarg, 0, 64); break;
		case OPT_COUNTS: c->counts_path = optarg; break;
		case OPT_ENGINE:
			if (strcmp(optarg, "loop") == 0)
				c->engine = JG_ENGINE_LOOP;
			else if (strcmp(optarg, "threads") == 0)
				c->engine = JG_ENGINE_THREADS;
			else if (strcmp(optarg, "serial") == 0)
				c->engine = JG_ENGINE_SERIAL;
			else
				usage_error("--engine: expected 'loop', 'threads' or 'serial', got '%s'", optarg);
			break;
		case OPT_THREADS: c->threads = parse_count("--threads", optarg, 1, JG_THREADS_MAX); break;
		case OPT_SHARD: {
			char why[160];
			if (jg_shard_parse(optarg, &c->shard, why, sizeof why) < 0)
				usage_error("--shard: %s", why);
			break;
		}
		case OPT_REFRESH: c->refresh = 1; break;
		case OPT_CHECKPOINT: c->checkpoint = parse_number("--checkpoint", optarg, 0, 86400 * 7); break;
		case 'q': c->quiet = 1; break;
		case OPT_JSON: c->json = optarg; break;
		case 'h': fputs(usage_text, stdout); exit(EXIT_ALL_OK);
		case 'V': print_version(); exit(EXIT_ALL_OK);
		case '?': jg_say(stderr, "Try 'juggle --help' for more information.\n"); exit(EXIT_USAGE);
		default: set_option(c, opt, optarg); break;
		}
	}
}

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
static void on_input_url(void *ctx, const char *source, unsigned long line, const char *text)
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
	if (c->shard.n && jg_shard_of(text, len, c->shard.n) != c->shard.k) {
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
	if (!(e->text = strdup(text))) {
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
		struct jg_prior prior;
		const struct jg_prior *p = jg_resume_prior(&c->resume, e->text, &prior);
		uint64_t refused = jg_session_priors_refused(c->session);
		int rc = p ? jg_session_add_prior(c->session, e->text, p, e)
		           : jg_session_add_url(c->session, e->text, e);
		if (jg_session_priors_refused(c->session) != refused)
			jg_resume_refused(&c->resume, e->text);
		if (rc == JG_OK)
			c->accepted++;
		else if (rc == JG_EDUPLICATE)
			c->duplicates++; /* downloaded once, as asked */
		else if (!c->requeued)
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
	jg_resume_drop_snapshot(&c->resume);
	if (jg_session_new(&c->session, loop, c->opts, why) != JG_OK) {
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
	for (int i = optind; i < argc; i++) {
		char *text = jg_input_trim(argv[i]);
		if (*text)
			on_input_url(c, "argument", (unsigned long)(i - optind + 1), text);
	}
	for (size_t i = 0; i < c->n_lists; i++) {
		const char *name = c->lists[i];
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
	jg_resume_book(&c->resume, e->text, e->index, &res, top, words, sizeof words);
	jg_report_book(&c->report, &res);
}

static void on_idle(struct jg_session *s, void *user)
{
	struct cli *c = user;
	ev_break(c->report.loop, EVBREAK_ONE);
}

static void on_counts(struct jg_pool *pool, const struct jg_counts *pool_counts, void *user)
{
	struct cli *c = user;
	c->collected = 1;
	ev_break(c->report.loop, EVBREAK_ONE);
	/* The books kept from earlier runs are in the snapshot, not the pool. */
	const struct jg_counts *counts = jg_resume_seal(&c->resume, pool_counts, 1);
	if (!counts) {
		c->report.input_errors++;
		return;
	}
	jg_report_counts(&c->report, counts, c->top);
	if (c->counts_path && jg_counts_write_tsv(counts, c->counts_path) != JG_OK) {
		jg_say(stderr, "juggle: %s: cannot write the counts: %s\n", c->counts_path, strerror(errno));
		c->report.input_errors++;
	}
}

/* Every book is counted: gather the workers' tables and report them. */
/*
 * A checkpoint: hold books back from the workers, and once the pool is
 * quiet its table is exactly that of the books recorded so far: seal it,
 * and let the books go again. A run killed later counts again only what
 * it counted after this.
 */
static void on_checkpoint_counts(struct jg_pool *pool, const struct jg_counts *counts, void *user)
{
	struct cli *c = user;
	jg_resume_seal(&c->resume, counts, 0);
	c->checkpointing = 0;
	if (c->session)
		jg_session_hold_counting(c->session, 0);
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
	if (c->checkpoint <= 0 || (c->count_flags & JG_COUNT_OFF) || !c->pool)
		return;
	ev_timer_init(&c->checkpoint_timer, on_checkpoint, c->checkpoint, c->checkpoint);
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
	if (c->interrupted || (c->count_flags & JG_COUNT_OFF) || !c->pool)
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
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct cli *c = w->data;
	c->interrupted = 1;
	ev_break(loop, EVBREAK_ONE);
}

static int run(struct cli *c, struct ev_loop *loop)
{
	ev_signal sigint, sigterm;
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	sigint.data = sigterm.data = c;
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	ev_unref(loop);
	ev_unref(loop);
	if (c->accepted > 0) {
		start_checkpoints(c, loop);
		ev_run(loop, 0);
		collect_counts(c, loop);
	}
	stop_checkpoints(c, loop);
	struct jg_stats st;
	jg_session_stats(c->session, &st);
	/* Whatever did not finish is reported as cancelled. */
	jg_session_free(c->session);
	c->session = NULL;
	ev_ref(loop);
	ev_ref(loop);
	ev_signal_stop(loop, &sigint);
	ev_signal_stop(loop, &sigterm);
	c->report.worker_restarts = c->pool ? jg_pool_restarts(c->pool) : 0;
	int io_failed = jg_report_finish(&c->report, &st) < 0;
	if (c->interrupted)
		return EXIT_INTERRUPTED;
	if (io_failed || c->report.failed || c->report.input_errors)
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
	rlim_t per = (c->count_flags & JG_COUNT_OFF) ? 2 : 1;
	rlim_t need = per * (c->jobs ? c->jobs : 64) + 2 * (c->workers ? c->workers : 16) + 64;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		jg_say(stderr, "juggle: warning: -j %u needs about %llu file descriptors, "
		        "but ulimit -n allows %llu\n", c->jobs ? c->jobs : 64, (unsigned long long)need,
		        (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "merge") == 0)
		return jg_merge_main(argc - 1, argv + 1);
	struct cli c;
	memset(&c, 0, sizeof c);
	signal(SIGPIPE, SIG_IGN);
	c.opts = jg_options_new();
	if (!c.opts) {
		jg_say(stderr, "juggle: out of memory\n");
		return EXIT_USAGE;
	}
	c.top = 10;
	c.checkpoint = 300;
	parse_args(&c, argc, argv);
	if (optind >= argc && c.n_lists == 0)
		usage_error("%s", "no URLs given (as arguments or with -i FILE)");
	if (c.counts_path && (c.count_flags & JG_COUNT_OFF))
		usage_error("%s", "--counts and --no-count contradict each other");
	if (c.threads && c.engine != JG_ENGINE_THREADS)
		usage_error("%s", "--threads needs --engine threads");
	jg_options_set_engine(c.opts, c.engine, c.threads);
	raise_fd_limit(&c);
	/* Workers are forked first: before curl or anything else could have
	 * started a thread. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char perr[JG_ERRBUF_SIZE];
	/* Without counting there is nothing for workers to do: the session
	 * then writes each body to its file as it arrives. */
	if (!(c.count_flags & JG_COUNT_OFF) &&
	    jg_pool_new(&c.pool, c.workers ? c.workers : (unsigned)(cpus > 0 ? cpus : 1), perr) != JG_OK) {
		jg_say(stderr, "juggle: %s\n", perr);
		return EXIT_USAGE;
	}
	jg_options_set_pool(c.opts, c.pool);
	jg_options_set_counting(c.opts, c.count_flags, c.top);
	if (jg_global_init() != JG_OK) {
		jg_say(stderr, "juggle: cannot initialise libcurl or c-ares\n");
		return EXIT_USAGE;
	}
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	char why[JG_ERRBUF_SIZE];
	int status = EXIT_USAGE;
	if (jg_session_new(&c.session, loop, c.opts, why) != JG_OK) {
		jg_say(stderr, "juggle: %s\n", why);
		goto out;
	}
	if (jg_report_init(&c.report, loop, c.quiet, c.json) < 0)
		goto out;
	jg_session_on_book(c.session, on_book, &c);
	jg_session_on_idle(c.session, on_idle, &c);
	c.resume_opened = 1;
	if (jg_resume_open(&c.resume, c.outdir ? c.outdir : "texts", c.count_flags, c.refresh) < 0)
		goto out;
	read_inputs(&c, argc, argv);
	for (size_t i = 0; i < c.n_entries; i++)
		jg_resume_listed(&c.resume, c.entries[i].text);
	jg_resume_plan(&c.resume, c.list_hash, c.list_order, c.list_urls, c.shard.k, c.shard.n);
	jg_resume_claim_files(&c.resume, c.session);
	queue_entries(&c);
	if (c.resume.snapshot_refused && requeue_without_snapshot(&c, loop) < 0)
		goto out;
	jg_resume_start(&c.resume, c.accepted);
	if (c.shard.n && !c.quiet)
		jg_say(stderr, "juggle: shard %u/%u: %llu URLs here, %llu in other shards\n",
		        c.shard.k, c.shard.n, (unsigned long long)c.accepted,
		        (unsigned long long)c.other_shards);
	jg_report_attach(&c.report, c.session, c.accepted);
	status = run(&c, loop);
	if (!c.quiet && (c.resume.kept || c.resume.recounted || c.resume.revalidated))
		jg_say(stderr, "juggle: resumed %s: %llu books kept, %llu counted again from their "
		        "files, %llu not modified (304)\n", c.outdir ? c.outdir : "texts",
		        (unsigned long long)c.resume.kept, (unsigned long long)c.resume.recounted,
		        (unsigned long long)c.resume.revalidated);
out:
	jg_session_free(c.session); /* NULL after a run */
	jg_options_free(c.opts);
	jg_report_fini(&c.report);
	if (c.resume_opened)
		jg_resume_close(&c.resume);
	jg_pool_free(c.pool);
	for (size_t i = 0; i < c.n_entries; i++)
		free(c.entries[i].text);
	free(c.entries);
	free(c.lists);
	ev_loop_destroy(loop);
	jg_global_cleanup();
	return status;
}
