#include "args.h"
#include "completion.h"
#include "say.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
"Usage: juggle [OPTION]... [URL | EBOOK-NUMBER]...\n"
"Download every URL concurrently on one thread and save each body under\n"
"its URL's last path segment. A bare number N means Project Gutenberg\n"
"ebook N: MIRROR/cache/epub/N/pgN.txt.\n"
"\n"
"Input:\n"
"  -i, --input FILE         read URLs from FILE, one per line ('-' = stdin;\n"
"                           '#' starts a comment line); may be repeated\n"
"      --mirror URL         mirror for ebook numbers, repeatable: spread over by\n"
"                           number, the next one tried when one fails a book\n"
"                           [https://www.gutenberg.org]\n"
"Counting:\n"
"  -w, --workers N          worker processes that save and count [online CPUs]\n"
"      --split MODE         words: Unicode letters and digits (default);\n"
"                           whitespace: ASCII white space, as wc -w\n"
"      --keep-boilerplate   count the Project Gutenberg header and licence too\n"
"      --top N              most frequent words shown per book and in all [10]\n"
"      --counts FILE        every word as word<TAB>count, most frequent first\n"
"                           (FILE '-': stdout)\n"
"      --no-count           save only, count nothing\n"
"Output:\n"
"  -o, --output DIR         directory for the books [texts]\n"
"      --json FILE          a JSON report of every URL (FILE '-': stdout)\n"
"      --failed FILE        every failed URL, a line each, for -i ('-': stdout)\n"
"  -q, --quiet              no progress line; summary only when something failed\n"
"      --config FILE        read options from FILE, not the default config file\n"
"                           ($XDG_CONFIG_HOME/juggle/config or\n"
"                           ~/.config/juggle/config); --no-config: read none\n"
"  -v, --verbose            a line per event as it happens (start, redirect,\n"
"                           retry and why, wait, failure), the loop's figures\n"
"Network:\n"
"  -j, --jobs N             concurrent transfers [64]\n"
"      --per-host N         concurrent transfers per host (name and port) [8]\n"
"      --connect-timeout S  seconds to connect [30]\n"
"      --stall-timeout S    abort when no byte arrived for S seconds [60]\n"
"      --max-size BYTES     largest decoded body, at most 1020M; K, M, G [256M]\n"
"      --limit-rate RATE    bytes per second for the whole run, shared by all\n"
"                           transfers; K, M, G as curl [no limit]\n"
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
"      --robots             keep to each host's robots.txt (RFC 9309), fetched\n"
"                           before its first URL: a URL it disallows fails;\n"
"                           Crawl-delay raises --wait (to 30 s at most); kept\n"
"                           24 h in DIR/.juggle/robots [off]\n"
"  -A, --user-agent STR     the User-Agent sent [juggle/VERSION]\n"
"  -H, --header 'N: V'      add header N to every request, replacing juggle's\n"
"                           own of that name; 'N:' removes it; may be repeated\n"
"  -x, --proxy URL          [SCHEME://][USER:PASS@]HOST[:PORT], SCHEME http,\n"
"                           https, socks5 or socks5h; '' for none [http_proxy,\n"
"                           https_proxy, all_proxy from the environment]\n"
"      --noproxy LIST       hosts, domains, IPs[/bits] that go direct; '*' all\n"
"                           [no_proxy from the environment]\n";

/* The help's second half (ISO C's string literals stop at 4095 bytes). */
static const char usage_more[] =
"Sharding and resuming (for array jobs of a scheduler):\n"
"      --shard K/N          only the URLs whose hash falls in shard K of N\n"
"                           (0-based); auto/N: K from SLURM_ARRAY_TASK_ID or\n"
"                           JOB_COMPLETION_INDEX\n"
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
"line was bad, 2 on a usage error, 130/143/129 on SIGINT/SIGTERM/SIGHUP.\n";

/* "FILE:LINE: " while the config file's settings are taken. */
static const char *usage_where = "";

void cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	jg_say(stderr, "juggle: %s%s\n", usage_where, text ? text : "usage error");
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
	OPT_WAIT, OPT_RANDOM_WAIT, OPT_LIMIT_RATE, OPT_FAILED, OPT_CONFIG, OPT_NO_CONFIG,
	OPT_COMPLETION, OPT_ROBOTS, OPT_NOPROXY, OPT_NO_CONTINUE,
};

/* The letters, as getopt takes them: completion reads them too. */
#define SHORT_OPTIONS "i:o:qvj:w:A:H:x:hV"

static const struct option long_options[] = {
	{"input", required_argument, NULL, 'i'},
	{"mirror", required_argument, NULL, OPT_MIRROR},
	{"output", required_argument, NULL, 'o'},
	{"json", required_argument, NULL, OPT_JSON},
	{"verbose", no_argument, NULL, 'v'},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"no-config", no_argument, NULL, OPT_NO_CONFIG},
	{"quiet", no_argument, NULL, 'q'},
	{"jobs", required_argument, NULL, 'j'},
	{"per-host", required_argument, NULL, OPT_PER_HOST},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT},
	{"max-size", required_argument, NULL, OPT_MAX_SIZE},
	{"limit-rate", required_argument, NULL, OPT_LIMIT_RATE},
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
	{"robots", no_argument, NULL, OPT_ROBOTS},
	{"header", required_argument, NULL, 'H'},
	{"proxy", required_argument, NULL, 'x'},
	{"noproxy", required_argument, NULL, OPT_NOPROXY},
	{"workers", required_argument, NULL, 'w'},
	{"split", required_argument, NULL, OPT_SPLIT},
	{"keep-boilerplate", no_argument, NULL, OPT_KEEP_BOILERPLATE},
	{"top", required_argument, NULL, OPT_TOP},
	{"counts", required_argument, NULL, OPT_COUNTS},
	{"failed", required_argument, NULL, OPT_FAILED},
	{"no-count", no_argument, NULL, OPT_NO_COUNT},
	{"engine", required_argument, NULL, OPT_ENGINE},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"shard", required_argument, NULL, OPT_SHARD},
	{"refresh", no_argument, NULL, OPT_REFRESH},
	{"no-continue", no_argument, NULL, OPT_NO_CONTINUE},
	{"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{"completion", required_argument, NULL, OPT_COMPLETION},
	{NULL, 0, NULL, 0},
};

static void print_version(void)
{
	char libs[1024];
	jg_library_versions(libs, sizeof libs);
	printf("juggle %s\n%s\n", jg_version(), libs);
}

/* Appends to one of the lists options give; out of memory ends the run. */
static void push(const char ***v, size_t *n, const char *s)
{
	const char **grown = realloc(*v, (*n + 1) * sizeof *grown);
	if (!grown) {
		jg_say(stderr, "juggle: out of memory\n");
		exit(EXIT_USAGE);
	}
	grown[(*n)++] = s;
	*v = grown;
}

/* A proxy URL for a message: its credentials, if any, as "***". */
static void redact(const char *url, char *out, size_t len)
{
	const char *at = strrchr(url, '@');
	const char *start = strstr(url, "://");
	start = start ? start + 3 : url;
	if (at && at > start)
		snprintf(out, len, "%.*s***%s", (int)(start - url), url, at);
	else
		snprintf(out, len, "%s", url);
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
		if (a->n_mirrors >= JG_MIRRORS_MAX)
			cli_usage_error("--mirror: at most %d mirrors", JG_MIRRORS_MAX);
		if (jg_options_add_mirror(o, arg) != JG_OK)
			cli_usage_error("--mirror: expected an http or https URL, got '%s'", arg);
		push(&a->mirrors, &a->n_mirrors, arg);
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
	case OPT_LIMIT_RATE:
		check(jg_options_set_limit_rate(o, parse_size("--limit-rate", arg)), "--limit-rate", arg);
		a->limit_rate = 1;
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
	case OPT_CACERT:
		if (access(arg, R_OK) != 0)
			cli_usage_error("--cacert %s: cannot read it: %s", arg, strerror(errno));
		check(jg_options_set_cacert(o, arg), "--cacert", arg);
		break;
	case OPT_RESOLVE:
		if (jg_options_add_resolve(o, arg) != JG_OK)
			cli_usage_error("--resolve: expected HOST:PORT:ADDR[,ADDR]..., got '%s'", arg);
		break;
	case OPT_DNS_SERVERS: check(jg_options_set_dns_servers(o, arg), "--dns-servers", arg); break;
	case OPT_NO_CONTINUE: check(jg_options_set_continue(o, 0), "--no-continue", ""); break;
	case 'A': check(jg_options_set_user_agent(o, arg), "--user-agent", arg); break;
	case OPT_ROBOTS: check(jg_options_set_robots(o, 1), "--robots", ""); break;
	case 'H':
		if (jg_options_add_header(o, arg) != JG_OK)
			cli_usage_error("--header: expected 'Name: value' (a token, then no control "
			                "characters; at most %d headers of %d bytes), got '%s'",
			                JG_HEADERS_MAX, JG_HEADER_MAX, arg);
		break;
	case 'x':
		if (jg_options_set_proxy(o, arg) != JG_OK) {
			char shown[300];
			redact(arg, shown, sizeof shown);
			cli_usage_error("--proxy: expected [SCHEME://][USER:PASSWORD@]HOST[:PORT] with "
			                "SCHEME http, https, socks5 or socks5h, got '%s'", shown);
		}
		a->proxy_given = 1;
		break;
	case OPT_NOPROXY:
		if (jg_options_set_noproxy(o, arg) != JG_OK)
			cli_usage_error("--noproxy: expected host names, domains or IP addresses "
			                "(ADDR[/BITS]) separated by commas, or '*', got '%s'", arg);
		break;
	default: cli_usage_error("%s", "unknown option");
	}
}

/* One option, from the command line or the config file. */
static void take_option(struct cli_args *a, int opt, const char *arg)
{
	switch (opt) {
	case 'i':
		/* Checked now: a list that cannot be read stops the run
		 * before anything is fetched or made. */
		if (strcmp(arg, "-") != 0 && access(arg, R_OK) != 0)
			cli_usage_error("-i %s: cannot read it: %s", arg, strerror(errno));
		push(&a->lists, &a->n_lists, arg);
		break;
	case 'w': a->workers = parse_count("--workers", arg, 1, 256); break;
	case OPT_SPLIT:
		if (strcmp(arg, "whitespace") == 0)
			a->count_flags |= JG_COUNT_WHITESPACE;
		else if (strcmp(arg, "words") != 0)
			cli_usage_error("--split: expected 'words' or 'whitespace', got '%s'", arg);
		break;
	case OPT_KEEP_BOILERPLATE: a->count_flags |= JG_COUNT_KEEP_BOILERPLATE; break;
	case OPT_NO_COUNT: a->count_flags |= JG_COUNT_OFF; break;
	case OPT_TOP: a->top = parse_count("--top", arg, 0, 64); break;
	case OPT_COUNTS: a->counts_path = arg; break;
	case OPT_FAILED: a->failed_path = arg; break;
	case OPT_ENGINE:
		if (strcmp(arg, "loop") == 0)
			a->engine = JG_ENGINE_LOOP;
		else if (strcmp(arg, "threads") == 0)
			a->engine = JG_ENGINE_THREADS;
		else if (strcmp(arg, "serial") == 0)
			a->engine = JG_ENGINE_SERIAL;
		else
			cli_usage_error("--engine: expected 'loop', 'threads' or 'serial', got '%s'", arg);
		break;
	case OPT_THREADS: a->threads = parse_count("--threads", arg, 1, JG_THREADS_MAX); break;
	case OPT_SHARD: {
		char why[160];
		if (jg_shard_parse(arg, &a->shard, why, sizeof why) < 0)
			cli_usage_error("--shard: %s", why);
		break;
	}
	case OPT_REFRESH: a->refresh = 1; break;
	case OPT_WAIT: a->wait = parse_number("--wait", arg, 0, 3600); a->wait_set = 1; break;
	case OPT_RANDOM_WAIT: a->random_wait = 1; a->wait_set = 1; break;
	case OPT_CHECKPOINT: a->checkpoint = parse_number("--checkpoint", arg, 0, 86400 * 7); break;
	case 'q': a->quiet = 1; break;
	case 'v': a->verbose = 1; break;
	case OPT_JSON: a->json = arg; break;
	case 'h':
		fputs(usage_text, stdout);
		fputs(usage_more, stdout);
		exit(EXIT_ALL_OK);
	case 'V': print_version(); exit(EXIT_ALL_OK);
	case OPT_COMPLETION:
		if (cli_completion_write(stdout, arg, long_options, SHORT_OPTIONS) < 0)
			cli_usage_error("--completion: expected 'bash' or 'zsh', got '%s'", arg);
		exit(EXIT_ALL_OK);
	case OPT_CONFIG:
	case OPT_NO_CONFIG:
		break; /* read before anything else */
	default: set_option(a, opt, arg); break;
	}
}

/* A config file's setting: the long option of that name, as if given. */
static void on_config_setting(void *ctx, const char *file, unsigned long line, const char *name,
                              const char *value)
{
	struct cli_args *a = ctx;
	static char where[4200];
	snprintf(where, sizeof where, "%s:%lu: ", file, line);
	usage_where = where;
	const struct option *o = long_options;
	while (o->name && strcmp(o->name, name) != 0)
		o++;
	if (!o->name)
		cli_usage_error("unknown option '%s'", name);
	if (o->val == 'h' || o->val == 'V' || o->val == OPT_CONFIG || o->val == OPT_NO_CONFIG)
		cli_usage_error("'%s' has no place in a config file", name);
	if (o->has_arg == required_argument && !value)
		cli_usage_error("%s needs a value", name);
	if (o->has_arg == no_argument && value)
		cli_usage_error("%s takes no value, got '%s'", name, value);
	take_option(a, o->val, value);
	usage_where = "";
}

/*
 * The config file comes first, so the command line overrides it:
 * --config FILE names one (it must exist), --no-config skips it, else
 * the default path (cli_config_default_path) is read if there.
 */
static void read_config(struct cli_args *a, int argc, char **argv)
{
	const char *path = NULL;
	int skip = 0;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--no-config") == 0)
			skip = 1;
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	if (skip)
		return;
	char fallback[4096], why[4300];
	if (!path) {
		cli_config_default_path(fallback, sizeof fallback);
		if (!*fallback)
			return;
	}
	if (cli_config_read(&a->config, path ? path : fallback, path != NULL, on_config_setting, a,
	                    why, sizeof why) < 0)
		cli_usage_error("%s", why);
}

/* An option as typed, without its "=value". */
static const char *option_text(const char *arg)
{
	static char text[128];
	snprintf(text, sizeof text, "%.*s", (int)strcspn(arg, "="), arg);
	return text;
}

void cli_args_parse(struct cli_args *a, int argc, char **argv)
{
	int opt;
	memset(a, 0, sizeof *a);
	a->top = 10;
	a->checkpoint = 300;
	a->opts = jg_options_new();
	if (!a->opts) {
		jg_say(stderr, "juggle: out of memory\n");
		exit(EXIT_USAGE);
	}
	read_config(a, argc, argv);
	/* getopt's own messages would start with argv[0]: ours say "juggle:". */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":" SHORT_OPTIONS, long_options, NULL)) != -1) {
		switch (opt) {
		case ':': cli_usage_error("%s needs a value", option_text(argv[optind - 1]));
		case '?':
			if (optopt && optopt < 256)
				cli_usage_error("unknown option '-%c'", optopt);
			cli_usage_error("unknown option '%s'", option_text(argv[optind - 1]));
		default: take_option(a, opt, optarg); break;
		}
	}
	a->first_url = optind;
	if (optind >= argc && a->n_lists == 0)
		cli_usage_error("%s", "no URLs given (as arguments or with -i FILE)");
	/* One stream cannot carry two files. */
	const char *to_stdout[] = {a->json, a->counts_path, a->failed_path};
	for (int i = 0, n = 0; i < 3; i++)
		if (to_stdout[i] && strcmp(to_stdout[i], "-") == 0 && ++n > 1)
			cli_usage_error("%s", "only one of --json, --counts and --failed may be '-' (stdout)");
	if (a->counts_path && (a->count_flags & JG_COUNT_OFF))
		cli_usage_error("%s", "--counts and --no-count contradict each other");
	if (a->limit_rate && a->engine != JG_ENGINE_LOOP)
		cli_usage_error("%s", "--limit-rate needs the loop engine (curl's own limit, which the "
		                "others would use, lets a fast server's bytes through unchecked)");
	if (a->threads && a->engine != JG_ENGINE_THREADS)
		cli_usage_error("%s", "--threads needs --engine threads");
	jg_options_set_engine(a->opts, a->engine, a->threads);
	/* After the options: -x and --noproxy win over the variables. */
	char why[JG_ERRBUF_SIZE];
	int rc = jg_options_read_proxy_env(a->opts, why);
	if (rc == JG_EINVAL)
		cli_usage_error("%s (--proxy URL or --proxy '' overrides it)", why);
	if (rc != JG_OK)
		cli_usage_error("%s", jg_strerror(rc));
	if (a->wait_set)
		jg_options_set_wait(a->opts, a->wait, a->random_wait);
}

void cli_args_fini(struct cli_args *a)
{
	jg_options_free(a->opts);
	free(a->lists);
	free(a->mirrors);
	cli_config_fini(&a->config);
	a->opts = NULL;
	a->lists = NULL;
}

