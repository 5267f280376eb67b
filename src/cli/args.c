#include "args.h"
#include "say.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
"      --wait S             at least S seconds between the starts of two requests\n"
"                           to the same host, as wget -w [0; www.gutenberg.org:\n"
"                           2, one at a time, unless --wait or --per-host]\n"
"      --random-wait        scale each wait by 0.5 to 1.5, as wget\n"
"  -A, --user-agent STR     the User-Agent sent [juggle/VERSION]\n"
"  -H, --header 'N: V'      add header N to every request, replacing juggle's\n"
"                           own of that name; 'N:' removes it; may be repeated\n";

/* The help's second half (ISO C's string literals stop at 4095 bytes). */
static const char usage_more[] =
"Sharding and resuming (for array jobs of a scheduler):\n"
"      --shard K/N          only the URLs whose hash falls in shard K of N (0-based);\n"
"                           auto/N: K from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX\n"
"      --checkpoint S       seal the counts so far every S seconds, so that a\n"
"                           killed run need not count its books again [300]\n"
"      --refresh            revalidate books saved by an earlier run with a\n"
"                           conditional GET (a 304 keeps the file); without it\n"
"                           they are kept as they are, with no request\n"
"      --no-continue        neither keep nor continue partial bodies: by default\n"
"                           a body over 1 MiB with no Content-Encoding and a\n"
"                           strong ETag or Last-Modified that a failed attempt\n"
"                           or a killed run left half written (in DIR/.juggle/\n"
"                           partial) is continued with a range request\n"
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

void cli_usage_error(const char *fmt, ...)
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
		cli_usage_error("%s: invalid value '%s' (expected %g to %g)", opt, arg, lo, hi);
	return v;
}

static unsigned parse_count(const char *opt, const char *arg, unsigned lo, unsigned hi)
{
	double v = parse_number(opt, arg, lo, hi);
	if (v != floor(v))
		cli_usage_error("%s: expected a whole number, got '%s'", opt, arg);
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
		cli_usage_error("%s: invalid size '%s'", opt, arg);
	return v * mult;
}

static void check(int rc, const char *opt, const char *arg)
{
	if (rc != JG_OK)
		cli_usage_error("%s: invalid value '%s'", opt, arg);
}

enum long_only {
	OPT_MIRROR = 256, OPT_JSON, OPT_PER_HOST, OPT_CONNECT_TIMEOUT, OPT_STALL_TIMEOUT,
	OPT_MAX_SIZE, OPT_RETRIES, OPT_RETRY_DELAY, OPT_MAX_REDIRECTS, OPT_MAX_BUFFER,
	OPT_CACERT, OPT_RESOLVE, OPT_DNS_SERVERS, OPT_SPLIT, OPT_KEEP_BOILERPLATE, OPT_TOP,
	OPT_COUNTS, OPT_NO_COUNT, OPT_ENGINE, OPT_THREADS, OPT_SHARD, OPT_REFRESH, OPT_CHECKPOINT,
	OPT_WAIT, OPT_RANDOM_WAIT, OPT_NO_CONTINUE,
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
	{"user-agent", required_argument, NULL, 'A'},
	{"wait", required_argument, NULL, OPT_WAIT},
	{"random-wait", no_argument, NULL, OPT_RANDOM_WAIT},
	{"header", required_argument, NULL, 'H'},
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
	{"no-continue", no_argument, NULL, OPT_NO_CONTINUE},
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

static void set_option(struct cli_args *a, int opt, const char *arg)
{
	struct jg_options *o = a->opts;
	switch (opt) {
	case 'o':
		check(jg_options_set_output_dir(o, arg), "--output", arg);
		a->outdir = arg;
		break;
	case 'j':
		a->jobs = parse_count("--jobs", arg, 1, 100000);
		check(jg_options_set_jobs(o, a->jobs), "--jobs", arg);
		break;
	case OPT_MIRROR:
		check(jg_options_set_mirror(o, arg), "--mirror", arg);
		break;
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
			cli_usage_error("--resolve: expected HOST:PORT:ADDR[,ADDR]..., got '%s'", arg);
		break;
	case OPT_DNS_SERVERS: check(jg_options_set_dns_servers(o, arg), "--dns-servers", arg); break;
	case OPT_NO_CONTINUE: check(jg_options_set_continue(o, 0), "--no-continue", ""); break;
	case 'A': check(jg_options_set_user_agent(o, arg), "--user-agent", arg); break;
	case 'H':
		if (jg_options_add_header(o, arg) != JG_OK)
			cli_usage_error("--header: expected 'Name: value' (a token, then no control "
			                "characters; at most %d headers of %d bytes), got '%s'",
			                JG_HEADERS_MAX, JG_HEADER_MAX, arg);
		break;
	default: cli_usage_error("%s", "unknown option");
	}
}

void cli_args_parse(struct cli_args *a, int argc, char **argv)
{
	int opt;
	memset(a, 0, sizeof *a);
	a->top = 10;
	a->checkpoint = 300;
	a->opts = jg_options_new();
	a->lists = calloc((size_t)argc, sizeof *a->lists);
	if (!a->opts || !a->lists) {
		jg_say(stderr, "juggle: out of memory\n");
		exit(EXIT_USAGE);
	}
	while ((opt = getopt_long(argc, argv, "i:o:qj:w:A:H:hV", long_options, NULL)) != -1) {
		switch (opt) {
		case 'i': a->lists[a->n_lists++] = optarg; break;
		case 'w': a->workers = parse_count("--workers", optarg, 1, 256); break;
		case OPT_SPLIT:
			if (strcmp(optarg, "whitespace") == 0)
				a->count_flags |= JG_COUNT_WHITESPACE;
			else if (strcmp(optarg, "words") != 0)
				cli_usage_error("--split: expected 'words' or 'whitespace', got '%s'", optarg);
			break;
		case OPT_KEEP_BOILERPLATE: a->count_flags |= JG_COUNT_KEEP_BOILERPLATE; break;
		case OPT_NO_COUNT: a->count_flags |= JG_COUNT_OFF; break;
		case OPT_TOP: a->top = parse_count("--top", optarg, 0, 64); break;
		case OPT_COUNTS: a->counts_path = optarg; break;
		case OPT_ENGINE:
			if (strcmp(optarg, "loop") == 0)
				a->engine = JG_ENGINE_LOOP;
			else if (strcmp(optarg, "threads") == 0)
				a->engine = JG_ENGINE_THREADS;
			else if (strcmp(optarg, "serial") == 0)
				a->engine = JG_ENGINE_SERIAL;
			else
				cli_usage_error("--engine: expected 'loop', 'threads' or 'serial', got '%s'", optarg);
			break;
		case OPT_THREADS: a->threads = parse_count("--threads", optarg, 1, JG_THREADS_MAX); break;
		case OPT_SHARD: {
			char why[160];
			if (jg_shard_parse(optarg, &a->shard, why, sizeof why) < 0)
				cli_usage_error("--shard: %s", why);
			break;
		}
		case OPT_REFRESH: a->refresh = 1; break;
		case OPT_WAIT: a->wait = parse_number("--wait", optarg, 0, 3600); a->wait_set = 1; break;
		case OPT_RANDOM_WAIT: a->random_wait = 1; a->wait_set = 1; break;
		case OPT_CHECKPOINT: a->checkpoint = parse_number("--checkpoint", optarg, 0, 86400 * 7); break;
		case 'q': a->quiet = 1; break;
		case OPT_JSON: a->json = optarg; break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(usage_more, stdout);
			exit(EXIT_ALL_OK);
		case 'V': print_version(); exit(EXIT_ALL_OK);
		case '?': jg_say(stderr, "Try 'juggle --help' for more information.\n"); exit(EXIT_USAGE);
		default: set_option(a, opt, optarg); break;
		}
	}
	a->first_url = optind;
	if (optind >= argc && a->n_lists == 0)
		cli_usage_error("%s", "no URLs given (as arguments or with -i FILE)");
	if (a->counts_path && (a->count_flags & JG_COUNT_OFF))
		cli_usage_error("%s", "--counts and --no-count contradict each other");
	if (a->threads && a->engine != JG_ENGINE_THREADS)
		cli_usage_error("%s", "--threads needs --engine threads");
	jg_options_set_engine(a->opts, a->engine, a->threads);
	if (a->wait_set)
		jg_options_set_wait(a->opts, a->wait, a->random_wait);
}

void cli_args_fini(struct cli_args *a)
{
	jg_options_free(a->opts);
	free(a->lists);
	a->opts = NULL;
	a->lists = NULL;
}

