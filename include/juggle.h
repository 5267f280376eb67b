/*
 * juggle — download many texts at once on one thread.
 *
 * A jg_session downloads URLs concurrently on a libev loop that the caller
 * owns, driving libcurl's multi socket interface and resolving names with
 * c-ares on that same loop: the session never starts a thread, never blocks
 * the loop and never runs or destroys the loop itself.
 *
 * The session never starts a thread with the default engine; the threads
 * and serial engines (jg_options_set_engine) exist to compare against.
 * Word counting runs in worker processes (jg_pool_new) that sessions share.
 *
 * Lifecycle
 *   jg_pool_new(&pool, workers, errbuf);   optional: counting; see below
 *   jg_global_init();                      once per process, before threads
 *   opts = jg_options_new(); jg_options_set_*(opts, ...);
 *   jg_options_set_pool(opts, pool);       with counting
 *   jg_session_new(&s, loop, opts, errbuf); jg_options_free(opts);
 *   jg_session_on_book(s, on_book, user);
 *   jg_session_on_idle(s, on_idle, loop);  on_idle: ev_break(loop, EVBREAK_ONE)
 *   jg_session_add_url(s, "https://...", user);    any number, any time
 *   ev_run(loop, 0);                       the caller's loop does the work;
 *                                          returns once on_idle broke it
 *   jg_session_free(s);
 *   jg_pool_free(pool);                    after its sessions
 *   jg_global_cleanup();
 *
 * The idle callback is how a program that runs the loop for juggle alone
 * knows it is done: a pool's pipes (and any other watcher of the caller's)
 * keep ev_run() going, so without the ev_break() it would never return. A
 * daemon whose loop runs for ever needs no such callback.
 *
 * Errors are negative `enum jg_err` values; jg_strerror() describes them.
 * Every string passed in is copied; every pointer handed to a callback is
 * borrowed and valid only during that callback.
 *
 * State: the library keeps none of its own between calls; everything lives
 * in the objects you create. The only process-wide state is libcurl's and
 * c-ares's one-time initialisation (jg_global_init). Several sessions may
 * share one loop and one pool; all of a pool's sessions use the same loop.
 * Sessions and pools are not thread-safe: use each from its loop's thread.
 * A callback may add URLs to its session, drain it or free it.
 *
 * Build: `pkg-config --cflags --libs juggle` (libjuggle.so.0), or
 * `pkg-config --static --cflags --libs juggle` for the static libjuggle.a;
 * both link libev as well, whose loop you run.
 *
 * ABI policy. libjuggle.so.0 stays compatible: a program built against an
 * older juggle.h of soname 0 runs with any newer libjuggle.so.0. Within a
 * soname, functions and error codes are only ever added, never removed or
 * changed; the soname is bumped (libjuggle.so.1) for anything else, and
 * CI compares every build against the last release with libabigail's
 * abidiff (scripts/abi_check.sh) and fails on an incompatible change that
 * keeps the soname. Structs come in three kinds:
 *   - opaque (jg_session, jg_options, jg_pool, jg_counts): made and freed
 *     by the library, their layout is nobody else's business;
 *   - sized (jg_stats, jg_prior): the caller owns the memory and the
 *     function takes its size (the macros below pass sizeof for you). They
 *     only ever grow at their end; the library reads or fills only the
 *     bytes the caller's struct has, so an older program's struct is never
 *     overrun and fields it does not know of read as zero;
 *   - handed out (jg_result, jg_word_count): the library owns the memory
 *     and lends a const pointer; jg_result only grows at its end, and a
 *     caller never allocates one. jg_word_count is frozen.
 * JG_VERSION_MAJOR/MINOR/PATCH (juggle_version.h) are the headers';
 * jg_version_number() is the library's that runs.
 */
#ifndef JUGGLE_H
#define JUGGLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(JG_BUILDING_LIBRARY)
#define JG_EXPORT __attribute__((visibility("default")))
#else
#define JG_EXPORT
#endif

#include "juggle_version.h"

struct ev_loop;
struct jg_session;
struct jg_options;
struct jg_pool;
struct jg_counts;

/* Error codes. Values are explicit and only ever added to. */
enum jg_err {
	JG_OK = 0,
	JG_EINVAL = -1,      /* a bad argument: NULL, zero, out of range */
	JG_ENOMEM = -2,      /* out of memory */
	JG_EURL = -3,        /* not a well-formed URL */
	JG_ESCHEME = -4,     /* a scheme other than http or https */
	JG_EDUPLICATE = -5,  /* this URL was already added to the session */
	JG_ECANCELED = -6,   /* the session was freed before the book finished */
	JG_EDNS = -7,        /* the host name did not resolve */
	JG_ECONNECT = -8,    /* could not connect (refused, unreachable, timeout) */
	JG_ETIMEOUT = -9,    /* no byte arrived for the stall timeout */
	JG_EHTTP = -10,      /* the server answered with an HTTP error status */
	JG_ETLS = -11,       /* TLS handshake or certificate verification failed */
	JG_ETOOLARGE = -12,  /* the decoded body passed the size limit */
	JG_EREDIRECT = -13,  /* too many redirects, a redirect loop or a bad target */
	JG_ETRANSFER = -14,  /* the transfer broke: reset, truncated, bad encoding */
	JG_EIO = -15,        /* saving the file failed */
	JG_EDRAINING = -16,  /* the session is draining and admits nothing new */
	JG_ETOOLONG = -17,   /* the URL is longer than JG_URL_MAX */
	JG_EINTERNAL = -18,  /* libcurl or c-ares refused a call it should accept */
	JG_EWORKER = -19,    /* a worker process died on this book, twice */
	JG_EPOOL = -20,      /* no worker process could be started */
	JG_EBUSY = -21,      /* another session holds the output directory */
	JG_ENAME = -22,      /* the file name asked for is another book's, or empty */
	JG_EROBOTS = -23,    /* robots.txt disallows it (jg_options_set_robots);
	                        added in 0.4 */
	JG_EPROXY = -24,     /* the proxy was unreachable, refused or failed */
};

/* The longest URL the session accepts, in bytes. */
#define JG_URL_MAX 8192

/* Size of the buffer jg_session_new() fills with a message on failure. */
#define JG_ERRBUF_SIZE 256

/* A static description of `err`; never NULL, also for unknown values. */
JG_EXPORT const char *jg_strerror(int err);
/* A stable short name for an error, for programs to match on ("dns",
 * "connect", "timeout", "http", ...; "ok" for JG_OK, "unknown" for none). */
JG_EXPORT const char *jg_err_name(int err);

/*
 * Process-wide set-up of libcurl and c-ares (curl_global_init and
 * ares_library_init). They are not thread-safe, so call this once, early,
 * before the process starts threads. An embedder that already calls
 * curl_global_init itself may still call this: both libraries count calls.
 * Returns JG_OK or JG_EINTERNAL.
 */
JG_EXPORT int jg_global_init(void);
JG_EXPORT void jg_global_cleanup(void);

/* Versions of juggle and of the libraries it runs on, for --version. */
JG_EXPORT const char *jg_version(void);
/* The running library's JG_VERSION_NUM. Added in 0.4. */
JG_EXPORT unsigned jg_version_number(void);
JG_EXPORT void jg_library_versions(char *buf, size_t len);

/*
 * Options. A session copies them at creation, so one options object may
 * configure several sessions and be freed right after jg_session_new().
 * Setters return JG_OK or JG_EINVAL (value out of range; nothing changed).
 * String setters copy their argument.
 */
JG_EXPORT struct jg_options *jg_options_new(void);
JG_EXPORT void jg_options_free(struct jg_options *opts);

/* Directory the books are saved in; created if missing. Default "texts". */
JG_EXPORT int jg_options_set_output_dir(struct jg_options *opts, const char *dir);
/* Concurrent transfers, 1..100000. Default 64. */
JG_EXPORT int jg_options_set_jobs(struct jg_options *opts, unsigned jobs);
/* Concurrent transfers to one host (name and port), 1..100000. Default 8. */
JG_EXPORT int jg_options_set_per_host(struct jg_options *opts, unsigned n);
/*
 * Pacing, as wget's -w: at least `seconds` (0 .. 3600) between the starts
 * of two requests to the same host (name and port); `random` scales each
 * wait by 0.5 .. 1.5 (wget's --random-wait). Other hosts are not delayed.
 * Default 0, except for www.gutenberg.org and gutenberg.org, whose terms
 * ask automated tools for one request at a time, 2 s apart: that holds
 * unless this or jg_options_set_per_host() is called. Added in 0.4.
 */
JG_EXPORT int jg_options_set_wait(struct jg_options *opts, double seconds, int random);
/* URLs added so far that go to such a host under its default pacing (so a
 * caller can say why the run will be slow). Added in 0.4. */
JG_EXPORT uint64_t jg_session_paced_by_default(const struct jg_session *s);
/* Seconds to establish a connection (0 = curl's default). Default 30. */
JG_EXPORT int jg_options_set_connect_timeout(struct jg_options *opts, double seconds);
/* Abort when no byte arrived for this many seconds (> 0). Default 60. */
JG_EXPORT int jg_options_set_stall_timeout(struct jg_options *opts, double seconds);
/* Largest decoded body, in bytes, 1..JG_MAX_SIZE_LIMIT. Default 256 MiB. */
#define JG_MAX_SIZE_LIMIT ((1ULL << 30) - (4ULL << 20))
JG_EXPORT int jg_options_set_max_size(struct jg_options *opts, uint64_t bytes);
/*
 * At most `bytes_per_second` received by all the session's transfers
 * together (curl's and wget's --limit-rate); 0 (the default) for no limit.
 * Shared fairly: a transfer that finds the rate spent waits its turn.
 * The loop engine's alone: jg_session_new() refuses it (JG_EINVAL) with
 * the threads or serial engine, where only curl's own per-transfer limit
 * could apply, and that one lets a fast server through unchecked.
 */
JG_EXPORT int jg_options_set_limit_rate(struct jg_options *opts, uint64_t bytes_per_second);
/* Extra attempts on transient failures, 0..100. Default 3. */
JG_EXPORT int jg_options_set_retries(struct jg_options *opts, unsigned retries);
/* First retry delay in seconds; doubles per attempt, with jitter. Default 1. */
JG_EXPORT int jg_options_set_retry_delay(struct jg_options *opts, double seconds);
/* Redirects followed per URL, 0..50. Default 10. */
JG_EXPORT int jg_options_set_max_redirects(struct jg_options *opts, unsigned n);
/*
 * Bytes of memory for bodies in flight and their decoders. Default 256
 * MiB. Counted as bytes arrive: a body that would pass it goes on in its
 * temporary file instead, and admission pauses while it is spent.
 */
JG_EXPORT int jg_options_set_max_buffer(struct jg_options *opts, uint64_t bytes);
/*
 * Added in 0.3. Off (the default), a session keeps every URL it accepted
 * until it is freed (about 100 bytes each): the same URL is refused as
 * JG_EDUPLICATE for the session's whole life, and names never clash. On,
 * a book is forgotten once its callback returns: memory stays flat in a
 * session that runs for ever (a daemon), the same URL may be added again
 * (from the callback too), and result indexes still count every URL
 * added. A file a forgotten book saved is then protected as those that
 * were in the directory before the session are: a later book with the
 * same name is saved as "name.1", ..., and its result says so
 * (foreign_file).
 */
JG_EXPORT int jg_options_set_forget_finished(struct jg_options *opts, int forget);
/*
 * Continuing large downloads, as wget -c and curl -C - do. On (the
 * default), a body of more than 1 MiB that comes with no Content-Encoding
 * and a strong validator (a strong ETag, else a Last-Modified a second
 * older than the answer's Date) is kept in OUTPUT_DIR/.juggle/partial/ as
 * it arrives (the bytes, as a second name of the body's temporary file,
 * and a sidecar with the URL, the validator and the length). When an
 * attempt fails (a cut connection, a stall) or the process is killed, the
 * next attempt of the book, in this session or a later one over the same
 * directory, asks for the rest only (`Range: bytes=N-`, `If-Range`,
 * `Accept-Encoding: identity`). A server that ignores the range, or whose
 * validator changed, sends the whole body, which replaces the partial; a
 * 206 that does not continue it exactly (another start, length or
 * coding) or a 416 drops it, and the book starts again from its first
 * byte. Nothing appears under a book's name before its body is whole,
 * and a book's partial goes when the book is saved or fails for good.
 * Such bodies go to their file from the loop thread rather than through
 * memory to the workers, which count the file. Off, nothing is kept or
 * continued. Also off while a header of jg_options_add_header() is a
 * Range or If-Range: the caller's ranges are theirs. Added in 0.4.
 */
JG_EXPORT int jg_options_set_continue(struct jg_options *opts, int on);
/*
 * The mirror bare ebook numbers refer to, replacing any set before.
 * Default https://www.gutenberg.org. JG_EURL when `url` is not an http or
 * https URL.
 */
JG_EXPORT int jg_options_set_mirror(struct jg_options *opts, const char *url);

/*
 * One more mirror, up to JG_MIRRORS_MAX. Bare ebook numbers are spread over
 * the mirrors by a stable hash of the number (the same book goes to the
 * same mirror in every run with the same list); a book whose mirror fails
 * it (no connection, no name, a timeout, a 5xx, 429 or 404: a mirror may
 * lack a book) is tried at once on the next mirror, in list order, and
 * fails only when every mirror did. Its result's url is the first
 * mirror's, final_url the one that served it.
 */
#define JG_MIRRORS_MAX 64
JG_EXPORT int jg_options_add_mirror(struct jg_options *opts, const char *url);
/* CA bundle for TLS verification (verification itself is always on). */
JG_EXPORT int jg_options_set_cacert(struct jg_options *opts, const char *file);
/* DNS servers, "ADDR[:PORT],..." as curl's --dns-servers; NULL = system's. */
JG_EXPORT int jg_options_set_dns_servers(struct jg_options *opts, const char *servers);
/*
 * Pin HOST:PORT to ADDR[,ADDR...] as curl's --resolve; may be called many
 * times. Pinned names are never looked up. Returns JG_EINVAL when `entry` is
 * not of that form.
 */
JG_EXPORT int jg_options_add_resolve(struct jg_options *opts, const char *entry);
/*
 * The User-Agent of every request; NULL for the default "juggle/VERSION".
 * JG_EINVAL when empty, longer than JG_HEADER_MAX or holding a control
 * byte (a line end would let it add headers of its own). Added in 0.4.
 */
#define JG_HEADER_MAX 1024
#define JG_HEADERS_MAX 64
JG_EXPORT int jg_options_set_user_agent(struct jg_options *opts, const char *ua);
/*
 * Keep to robots.txt (RFC 9309); off by default. On, the first URL of
 * each origin (scheme, host and port) waits for that origin's
 * /robots.txt, fetched once as one of the host's requests (its per-host
 * limit and wait apply); its other URLs wait meanwhile. The groups used
 * are those naming the User-Agent's product token ("juggle", or what
 * precedes the first '/' or blank of jg_options_set_user_agent's), else
 * those of '*'. A URL it disallows is not requested and fails with
 * JG_EROBOTS, its error naming the robots.txt and the rule. A 4xx allows
 * everything; a 5xx or no answer (connect, DNS, timeout) refuses every
 * URL of the origin for the session's life. Crawl-delay N (at most 30)
 * becomes the host's least wait between requests. 2xx and 4xx answers
 * are kept in DIR/.juggle/robots/ for 24 hours, so that a session within
 * that time asks nothing again. Redirects of a book to another origin are
 * not checked against that origin's robots.txt. Added in 0.4.
 */
JG_EXPORT int jg_options_set_robots(struct jg_options *opts, int on);
/*
 * A header for every request, "Name: value" as curl's -H; may be called up
 * to JG_HEADERS_MAX times. It replaces a header juggle would send of the
 * same name (Accept-Encoding, say); "Name:" with no value removes it. The
 * name must be a token (RFC 9110) and the value hold no control byte but
 * tab. JG_EINVAL otherwise. Added in 0.4.
 */
JG_EXPORT int jg_options_add_header(struct jg_options *opts, const char *line);

/*
 * Proxies. Added in 0.4. By default a session connects directly and reads
 * no environment variable: a library that changed course with its host's
 * environment would surprise a daemon that was started from a shell with
 * http_proxy set. jg_options_read_proxy_env() is there to opt in (the
 * command line does).
 *
 * jg_options_set_proxy(): every URL goes through `url`,
 * [SCHEME://][USER[:PASSWORD]@]HOST[:PORT], SCHEME http (the default),
 * https (TLS to the proxy, verified with jg_options_set_cacert's bundle),
 * socks5 (juggle resolves the server's name) or socks5h (the proxy does);
 * PORT defaults to 1080, 443 for https, as curl's. https:// URLs go
 * through an http(s) proxy with CONNECT. NULL or "" = no proxy. Either
 * way the choice is explicit: jg_options_read_proxy_env() then leaves the
 * proxies alone. JG_EINVAL for a malformed URL or an unknown scheme.
 *
 * jg_options_set_noproxy(): hosts that go direct all the same, as curl's
 * --noproxy: names and domains ("example.org" and ".example.org" both
 * cover www.example.org), IP addresses with an optional /prefix length,
 * "*" for every host; separated by commas or white space. NULL or "" =
 * none; explicit likewise. JG_EINVAL for a malformed entry.
 *
 * Names never go to a resolver thread: the proxy's name is resolved on
 * the loop by c-ares, and the server's name too when curl must send an
 * address (socks5); through http, https and socks5h proxies the server's
 * name is the proxy's to resolve. A proxy that cannot be reached, refuses
 * (a CONNECT answered 403 or 407, a SOCKS refusal) or fails is reported
 * as JG_EPROXY with the proxy named in the result's error, and retried
 * when that may help; it does not count against the server's host.
 */
JG_EXPORT int jg_options_set_proxy(struct jg_options *opts, const char *url);
JG_EXPORT int jg_options_set_noproxy(struct jg_options *opts, const char *list);
/*
 * The proxy variables curl reads, for whatever was not set explicitly
 * above: http_proxy for http:// URLs (never HTTP_PROXY, which a CGI
 * program may get from a request's Proxy: header), https_proxy or
 * HTTPS_PROXY for https:// ones, all_proxy or ALL_PROXY for both, and
 * no_proxy or NO_PROXY; the first of each that is set and not empty. Reads
 * the environment now, once (getenv is not safe while another thread
 * changes the environment). JG_OK, or JG_EINVAL with the variable, its
 * value and the reason in `errbuf` (JG_ERRBUF_SIZE bytes, may be NULL);
 * nothing is changed then. JG_ENOMEM.
 */
JG_EXPORT int jg_options_read_proxy_env(struct jg_options *opts, char *errbuf);

/*
 * Word counting. A pool of worker processes saves and counts the books of
 * the sessions that use it (jg_options_set_pool()). Without a pool (or
 * with JG_COUNT_OFF), a session counts nothing and writes each body to
 * its temporary file from the loop thread as the data arrives: a write(2)
 * into the page cache per chunk of up to 64 KiB, plus an open and a rename
 * per book. That is cheap (loop stall under 2 ms at 1 GB/s from nginx),
 * but a disk that blocks (full dirty cache, network filesystem) delays
 * the loop; with a pool, the workers do all disk work but for the large
 * bodies that may be continued (jg_options_set_continue), which the loop
 * writes to their files as they arrive.
 */
enum jg_count_flags {
	JG_COUNT_WHITESPACE = 1 << 0,        /* split on ASCII white space only */
	JG_COUNT_KEEP_BOILERPLATE = 1 << 1,  /* count Gutenberg header and licence */
	JG_COUNT_OFF = 1 << 2,               /* save only, count nothing */
	/* Added in 0.3: each book's figures, but none of its words in the
	 * pool's table of all books (jg_pool_collect): that table grows
	 * with every new word, which a daemon that never asks for it should
	 * not pay for. */
	JG_COUNT_NO_TOTALS = 1 << 3,
};
/* `flags` from enum jg_count_flags; `top` words per book, 0..64 (default 10). */
JG_EXPORT int jg_options_set_counting(struct jg_options *opts, unsigned flags, unsigned top);
/* Borrowed: the pool must outlive every session that uses it. */
JG_EXPORT int jg_options_set_pool(struct jg_options *opts, struct jg_pool *pool);

/*
 * How transfers run. Everything but the transfer itself (queueing, name
 * resolution, redirects, retries, saving, counting, callbacks) stays on
 * the caller's loop thread whatever the engine.
 *
 * JG_ENGINE_LOOP     curl's multi socket interface on the loop: no thread.
 * JG_ENGINE_THREADS  a pool of up to `threads` threads, each running one
 *                    blocking curl_easy_perform() at a time; finished
 *                    transfers come back to the loop through an ev_async.
 *                    `threads` 0 = as many as jobs. Threads are started as
 *                    work arrives, like a ThreadPoolExecutor.
 * JG_ENGINE_SERIAL   one transfer at a time, in one such thread (jobs is
 *                    then 1): the baseline of a plain download loop.
 *
 * The last two exist to compare against: they cost a thread stack and a
 * connection cache per transfer, and cancelling one of their transfers
 * (jg_session_free) may wait up to about a second for curl to notice.
 */
enum jg_engine { JG_ENGINE_LOOP, JG_ENGINE_THREADS, JG_ENGINE_SERIAL };
/* threads: 0..JG_THREADS_MAX (0 = jobs). Default JG_ENGINE_LOOP. */
#define JG_THREADS_MAX 100000
JG_EXPORT int jg_options_set_engine(struct jg_options *opts, enum jg_engine engine,
                                    unsigned threads);
/* "loop", "threads", "serial"; NULL for an unknown value. */
JG_EXPORT const char *jg_engine_name(enum jg_engine engine);

/*
 * What a set of options says, for a report to record the settings that
 * shaped its results (defaults included). Sized: grows only at its end.
 * Strings belong to `opts` and live as long as it does, unchanged.
 */
struct jg_settings {
	unsigned jobs, per_host;
	double wait;              /* seconds; 0: none */
	int random_wait;
	uint64_t limit_rate;      /* bytes per second; 0: none */
	unsigned retries;
	double retry_delay, connect_timeout, stall_timeout;
	uint64_t max_size;
	unsigned max_redirects;
	unsigned count_flags;     /* enum jg_count_flags */
	unsigned top;
	enum jg_engine engine;
	size_t n_mirrors;
	const char *const *mirrors;
	const char *user_agent;   /* NULL: juggle's own */
};
JG_EXPORT void jg_options_settings(const struct jg_options *opts, struct jg_settings *out,
                                   size_t size);

/*
 * Starts `workers` (1..256) worker processes now; they block on their
 * pipes until a session sends them books. Returns JG_OK, JG_EINVAL or
 * JG_EPOOL (with a message in `errbuf`, JG_ERRBUF_SIZE bytes, when not
 * NULL).
 *
 * How a worker starts (now, and again whenever one dies):
 * - While the process has a single thread, by a plain fork(): cheapest,
 *   and what the CLI does by creating its pool first thing in main().
 * - Once it has more (the host's threads, curl's resolver thread, the
 *   threads engine), a forked child could deadlock on a lock another
 *   thread held at the fork, so the worker is started by posix_spawn()
 *   of the `juggle-worker` helper that `meson install` puts in libexecdir
 *   (path compiled in; the environment variable JUGGLE_WORKER overrides
 *   it; when it is not installed, a juggle-worker beside the running
 *   program is used, as in a build tree). Nothing is asked of the caller
 *   but that the helper be there.
 * A host with threads that wants no exec can create its pool before it
 * starts them and share it among its sessions (jg_options_set_pool()).
 *
 * jg_pool_new_exec() always starts workers from the helper at `helper`.
 *
 * Process state it touches: SIGPIPE is set to ignored if it was at its
 * default (a write to a dead worker's pipe must fail with EPIPE rather
 * than kill the host); a handler of the host's own is left alone.
 */
JG_EXPORT int jg_pool_new(struct jg_pool **out, unsigned workers, char *errbuf);
JG_EXPORT int jg_pool_new_exec(struct jg_pool **out, unsigned workers, const char *helper,
                               char *errbuf);
/* Workers started by exec of the helper, since the pool was made. */
JG_EXPORT unsigned jg_pool_exec_starts(const struct jg_pool *pool);
/* Workers started again after one died, since the pool was made. */
JG_EXPORT unsigned jg_pool_restarts(const struct jg_pool *pool);
/*
 * Ends the workers (EOF on their pipes) and waits for them. Once a session
 * used it, the pool watches its pipes on that session's loop, keeping
 * ev_run() going, until this is called: free the pool after its sessions
 * and before the loop is destroyed.
 */
JG_EXPORT void jg_pool_free(struct jg_pool *pool);

/* The merged counts of every book the pool counted. */
typedef void (*jg_counts_cb)(struct jg_pool *pool, const struct jg_counts *counts, void *user);
/*
 * Asks every worker for its running table and calls `cb` once every book
 * handed over so far is merged; `counts` is the pool's own table, valid
 * during the call and after it until the pool takes in more counts (books
 * handed over later) or is freed. The workers' tables go into it a
 * bounded step per loop iteration, so `cb` may come some iterations after
 * the last book's answer.
 */
JG_EXPORT int jg_pool_collect(struct jg_pool *pool, jg_counts_cb cb, void *user);
JG_EXPORT uint64_t jg_counts_total(const struct jg_counts *c);
JG_EXPORT uint64_t jg_counts_distinct(const struct jg_counts *c);
/* The count of `word` (UTF-8, as counted: case-folded), 0 when absent. */
JG_EXPORT uint64_t jg_counts_get(const struct jg_counts *c, const char *word);

struct jg_word_count {
	const char *word;
	uint64_t count;
};
/* The `n` most frequent words (count descending, then word ascending). */
JG_EXPORT size_t jg_counts_top(const struct jg_counts *c, size_t n, struct jg_word_count *out);
/*
 * Writes "word<TAB>count" lines in that order to `path`, atomically: a
 * temporary file created beside it (never through a symlink), renamed
 * over it when complete. JG_OK, JG_ENOMEM or JG_EIO (errno says why).
 * jg_counts_write_tsv_at() does the same for `name` in directory `dirfd`.
 */
JG_EXPORT int jg_counts_write_tsv(const struct jg_counts *c, const char *path);
JG_EXPORT int jg_counts_write_tsv_at(const struct jg_counts *c, int dirfd, const char *name);
/* The same lines to an open descriptor (1 for stdout, say), left open.
 * JG_OK, JG_ENOMEM or JG_EIO (errno says why). */
JG_EXPORT int jg_counts_write_tsv_fd(const struct jg_counts *c, int fd);

/*
 * Tables of one's own, e.g. to combine the tables of several runs (as
 * `juggle merge` does). jg_counts_new() returns NULL when out of memory.
 */
JG_EXPORT struct jg_counts *jg_counts_new(void);
JG_EXPORT void jg_counts_free(struct jg_counts *c);
/* Adds every count of `src` to `dst`: JG_OK, JG_ENOMEM, or JG_EINVAL when
 * the sum would pass 2^64 (nothing was added then). */
JG_EXPORT int jg_counts_merge(struct jg_counts *dst, const struct jg_counts *src);
/*
 * Adds the counts of a file jg_counts_write_tsv() wrote. JG_OK, JG_ENOMEM,
 * or JG_EIO with the file, line and reason in `errbuf` (JG_ERRBUF_SIZE
 * bytes, may be NULL) when it cannot be read or a line is malformed; what
 * was read before the bad line stays added. Counts that add up past 2^64
 * are a malformed file too.
 */
JG_EXPORT int jg_counts_read_tsv(struct jg_counts *c, const char *path, char *errbuf);
/* The same for `name` in directory `dirfd`; a symlink there is refused. */
JG_EXPORT int jg_counts_read_tsv_at(struct jg_counts *c, int dirfd, const char *name,
                                    char *errbuf);

/* What happened to one URL; borrowed, valid only during the callback. */
struct jg_result {
	const char *url;       /* the URL as added (a bare number expanded) */
	const char *final_url; /* where redirects led; equals url without them */
	const char *file;      /* path of the saved file; NULL on failure */
	void *user;            /* the pointer given to jg_session_add_url() */
	uint64_t index;        /* 0-based position among the URLs added */
	int err;               /* JG_OK, or the kind of failure */
	const char *error;     /* the details, e.g. "HTTP 404"; "" when ok */
	long http_code;        /* the last HTTP status seen; 0 if none */
	uint64_t bytes;        /* decoded body bytes saved */
	unsigned attempts;     /* transfers tried, retries included */
	unsigned redirects;    /* redirects followed */
	double elapsed;        /* seconds from admission to the end */
	int counted;           /* the figures below are set */
	uint64_t words;        /* words in the book */
	uint64_t distinct;     /* distinct words */
	size_t n_top;
	const struct jg_word_count *top; /* its most frequent words */
	/* Added in 0.2: */
	int reused;            /* the file an earlier run saved was kept, no
	                          body was transferred (jg_session_add_prior) */
	const char *etag;      /* the answer's validators, NULL when absent; */
	const char *last_modified; /* for a kept file, those given in the prior */
	const char *sha256;    /* the saved file's SHA-256 in hex, taken by the
	                          workers as they save or count it; NULL
	                          without them (no pool, JG_COUNT_OFF: hashing
	                          on the loop cost a quarter of its CPU) and
	                          for a file kept as it was */
	const char *content_type; /* of the answer (or the prior); NULL if none */
	/* Added in 0.3: */
	const char *charset;   /* what the book was read in ("utf-8",
	                          "windows-1252", ...); NULL when not counted */
	const char *charset_from; /* how that was decided: "http" (the
	                          Content-Type), "book" (its own "Character set
	                          encoding:" line) or "detected"; NULL likewise */
	const char *charset_note; /* why a charset the server or the book named
	                          was not used (iconv does not know it); NULL */
	const char *foreign_file; /* the name this book would have had, taken
	                          by a file that was in the output directory
	                          before the session and is not the caller's
	                          (jg_session_claim_file); NULL when none */
	/* Added in 0.4: */
	uint64_t continued_from; /* bytes an earlier attempt or run had left of
	                          the body, whose rest alone was transferred
	                          (jg_options_set_continue); 0 when the body
	                          came from its first byte */
};

/*
 * Called once per added URL when it finished, failed for good, or was
 * cancelled by jg_session_free() (err == JG_ECANCELED; then the callback
 * must not call any function of this session). Otherwise the callback may
 * add URLs, drain or free the session.
 */
typedef void (*jg_book_cb)(struct jg_session *s, const struct jg_result *r, void *user);
/*
 * Called when the session has nothing left to do: nothing queued, nothing
 * in flight. It fires again if URLs are added later and finish.
 */
typedef void (*jg_idle_cb)(struct jg_session *s, void *user);

/*
 * Creates a session on `loop` (any loop; the default loop is never
 * assumed). Copies `opts` (NULL = defaults). Creates the output directory,
 * takes its lock (DIR/.juggle/lock, an exclusive flock(), held until the
 * session is freed: JG_EBUSY when another session, of this process or
 * another, holds it; DIR/.juggle must be a real directory, never a
 * symlink), and only then removes the temporary files that runs which
 * are over left in it: holding the lock proves no live run writes them.
 *
 * Files already in the output directory are never replaced unless they
 * are the caller's: a book whose name is taken by one is saved under the
 * next free name ("name.1", ...) and its result says so (foreign_file).
 * A file is the caller's when a prior names it (jg_session_add_prior) or
 * jg_session_claim_file() was called for it. On failure
 * returns a negative jg_err and, when `errbuf` is not NULL, writes a
 * message of at most JG_ERRBUF_SIZE bytes into it.
 */
JG_EXPORT int jg_session_new(struct jg_session **out, struct ev_loop *loop,
                             const struct jg_options *opts, char *errbuf);

JG_EXPORT void jg_session_on_book(struct jg_session *s, jg_book_cb cb, void *user);
JG_EXPORT void jg_session_on_idle(struct jg_session *s, jg_idle_cb cb, void *user);

struct timespec;
/*
 * The modification time of the file `r` saved, as the session read it
 * with fstat() on the descriptor it wrote the file through, just before
 * the file took its name: a caller that records it (to tell later whether
 * the file changed, as the command line's manifest does) need not stat
 * the file by name. Only inside the jg_book_cb, for the `r` it was given.
 * JG_OK with `*mtime` set; JG_EINVAL when the session does not know it
 * (a body saved by a worker of the pool, a file kept from an earlier run,
 * a failure) or `r` is not the result being reported: stat r->file then.
 * Added in 0.4.
 */
JG_EXPORT int jg_session_result_mtime(const struct jg_session *s, const struct jg_result *r,
                                      struct timespec *mtime);

/* What a book's attempts go through, as it happens (curl's -v, wget's
 * log): for a log, never needed to get results. */
enum jg_event_kind {
	JG_EVENT_START,     /* an attempt starts: `url`, `attempt` */
	JG_EVENT_REDIRECT,  /* `url` sent it to `detail` */
	JG_EVENT_RETRY,     /* it failed (`detail`: why) and waits `delay` s */
	JG_EVENT_MIRROR,    /* its mirror failed it (`detail`: why): on to `url` */
};

/* Sized: grows only at its end. Its strings are valid during the call. */
struct jg_event {
	enum jg_event_kind kind;
	const char *url;
	const char *detail;   /* "" when none */
	double delay;         /* RETRY: seconds until the next attempt */
	unsigned attempt;     /* this book's attempt, from 1 */
	void *user;           /* the book's, as added */
};

/* The callback may not add, drain or free: it only looks. */
typedef void (*jg_event_cb)(struct jg_session *s, const struct jg_event *ev, void *user);
JG_EXPORT void jg_session_on_event(struct jg_session *s, jg_event_cb cb, void *user);

/*
 * Queues `url` (copied) for download; `user` comes back in its result. A
 * string of digits alone means that Project Gutenberg ebook on the mirror.
 * Never calls a callback from inside; work starts on the loop's next
 * iteration. Returns JG_OK, or JG_EURL, JG_ESCHEME, JG_ETOOLONG,
 * JG_EDUPLICATE (already added: it is downloaded once), JG_EDRAINING,
 * JG_ENOMEM; on any error nothing was queued and no callback will fire.
 */
JG_EXPORT int jg_session_add_url(struct jg_session *s, const char *url, void *user);

/*
 * Resuming: a URL whose book an earlier run may already have saved in the
 * output directory. File names depend only on the order URLs are added,
 * so a caller that adds the same list in the same order finds each book
 * under the name it had. `prior->file` is that name as the earlier run
 * reported it (the last path segment of jg_result.file); when it differs
 * from the name this session gives the URL, or no regular file of
 * `prior->bytes` bytes is there, the prior is ignored and the URL is
 * fetched as by jg_session_add_url(). A NULL `file` takes whatever regular
 * file is under the book's name, of any size (files left by a run that
 * recorded nothing; only safe with the same list in the same order).
 * Otherwise, by `prior->use`:
 *
 * JG_PRIOR_KEEP        no transfer and no counting: the book is reported
 *                      as saved (reused = 1) from the loop, soon after.
 * JG_PRIOR_RECOUNT     no transfer; the workers count the file (and hash
 *                      it) as if it had just been downloaded. Without
 *                      counting, the same as KEEP.
 * JG_PRIOR_REVALIDATE  a conditional GET with the validators given
 *                      (If-None-Match / If-Modified-Since). A 304 keeps the
 *                      file (reused = 1, http_code 304) and goes on as
 *                      RECOUNT; any other answer is handled as usual, a 200
 *                      replacing the file atomically.
 *
 * Strings are copied. Returns what jg_session_add_url() returns. A prior
 * that did not hold is no error: the URL is queued and fetched as by
 * jg_session_add_url(), and jg_session_priors_refused() counts it (read it
 * before and after the call to know).
 *
 * `prior_size` is sizeof the caller's struct jg_prior; the macro
 * jg_session_add_prior() passes it. Changed in 0.4: 0.3 returned
 * JG_PRIOR_REFUSED for a refused prior, a success through the error
 * channel; programs built against 0.3 still get that from the
 * jg_session_add_prior symbol, which takes the 0.3 struct.
 */
#define JG_PRIOR_REFUSED 1  /* only from the 0.3 symbol */
enum jg_prior_use { JG_PRIOR_KEEP = 1, JG_PRIOR_RECOUNT = 2, JG_PRIOR_REVALIDATE = 3 };
struct jg_prior {              /* sized: grows only at its end */
	enum jg_prior_use use;
	const char *file;          /* the saved file's name in the output dir */
	uint64_t bytes;            /* its size */
	const char *etag;          /* validators of the answer that saved it; */
	const char *last_modified; /* NULL when there were none */
	const char *content_type;  /* its Content-Type: the charset to count in */
};
JG_EXPORT int jg_session_add_prior_sized(struct jg_session *s, const char *url,
                                         const struct jg_prior *prior, size_t prior_size,
                                         void *user);
/*
 * As jg_session_add_prior_sized(), and the book is saved as `name` (NULL:
 * from its URL, as usual), made safe as any name is. JG_ENAME when another
 * book of the session has that name or nothing is left of it once made
 * safe. `prior` may be NULL.
 */
JG_EXPORT int jg_session_add_named(struct jg_session *s, const char *url, const char *name,
                                   const struct jg_prior *prior, size_t prior_size,
                                   void *user);
/* Priors given to jg_session_add_prior() that did not hold, so far. */
JG_EXPORT uint64_t jg_session_priors_refused(const struct jg_session *s);
/* The 0.3 function, kept for programs built against it (see above). */
JG_EXPORT int jg_session_add_prior(struct jg_session *s, const char *url,
                                   const struct jg_prior *prior, void *user);
#define jg_session_add_prior(s, url, prior, user) \
	jg_session_add_prior_sized((s), (url), (prior), sizeof *(prior), (user))

/*
 * Declares `name`, a file in the output directory, the caller's own (an
 * earlier run of the caller's wrote it): a book may be saved over it.
 * Call before adding the URLs whose names may meet it. JG_OK, JG_EINVAL
 * or JG_ENOMEM.
 */
JG_EXPORT int jg_session_claim_file(struct jg_session *s, const char *name);

/*
 * Admit nothing new; what is in flight finishes. Queued URLs stay queued.
 * The idle callback then fires once nothing is in flight any more (books
 * with the workers included), also when it had fired before the drain.
 */
JG_EXPORT void jg_session_drain(struct jg_session *s);

/*
 * Holds books back from the workers (hold != 0) or lets them go again.
 * While held, downloads go on and each downloaded book waits in memory
 * (within the max-buffer budget), so the pool runs dry: a
 * jg_pool_collect() issued then reports a table of exactly the books
 * reported so far. The CLI uses this to checkpoint its counts.
 */
JG_EXPORT void jg_session_hold_counting(struct jg_session *s, int hold);

/* Sized: grows only at its end (see the ABI policy above). */
struct jg_stats {
	uint64_t added;        /* URLs accepted by jg_session_add_url() */
	uint64_t queued;       /* waiting for a transfer slot */
	uint64_t active;       /* transfers in flight, resolving included */
	uint64_t waiting;      /* waiting to retry */
	uint64_t counting;     /* downloaded, with the workers to save and count */
	uint64_t ok;           /* saved */
	uint64_t failed;       /* failed for good */
	uint64_t bytes;        /* body bytes received, including in flight */
	uint64_t buffered;     /* body bytes held in memory now */
	uint64_t retries;      /* retry attempts made */
	uint64_t loop_iterations;
	double stall_max;      /* longest loop iteration spent in callbacks, s */
	double stall_p99;      /* its 99th percentile, s (an upper bound) */
	enum jg_engine engine;
	unsigned threads;      /* engine threads started (0 for the loop) */
	/* Added in 0.4: what the transfers in flight said they will bring. */
	uint64_t active_sized; /* of `active`: transfers whose answer, a 2xx,
	                          gave a Content-Length */
	uint64_t bytes_expected; /* what those still have to receive: their
	                          Content-Lengths less the body bytes they got
	                          so far. In the bytes `bytes` counts, as sent:
	                          with a Content-Encoding the coded size, not
	                          the decoded one no header tells; a chunked
	                          body has none. bytes + bytes_expected is what
	                          `bytes` reaches once they end, if nothing
	                          else starts and none fails. */
};

/*
 * One host's figures: what a server operator would ask of the run. A host
 * is a name and port; a book counts on the host of its own URL (of the
 * mirror it went to last, for an ebook number), redirects included. Sized:
 * grows only at its end.
 */
struct jg_host_stats {
	const char *name;         /* "host:port"; the session's, valid until it is freed */
	uint64_t requests;        /* attempts started, retries included */
	uint64_t ok, failed;      /* books reported */
	uint64_t bytes;           /* of the books saved */
	double waited;            /* seconds it had work but was held back
	                             (--wait, Retry-After, Crawl-delay) */
	unsigned concurrency_max; /* most transfers at once */
	unsigned limit;           /* its limit now: halved by 429/503, grown back */
	const char *robots;       /* its robots.txt: "" when not asked */
};

/* Hosts the session has met, in the order met. */
JG_EXPORT size_t jg_session_host_count(const struct jg_session *s);
/*
 * Fills the first `size` bytes of `*out` (sizeof the caller's struct) with
 * host `i`'s figures (0 <= i < jg_session_host_count()). JG_OK, or
 * JG_EINVAL for no such host.
 */
JG_EXPORT int jg_session_host_stats(const struct jg_session *s, size_t i,
                                    struct jg_host_stats *out, size_t size);

/*
 * Fills the first `size` bytes of `*out` (sizeof the caller's struct: the
 * macro jg_session_stats() passes it) with the session's figures.
 */
JG_EXPORT void jg_session_stats_sized(const struct jg_session *s, struct jg_stats *out,
                                      size_t size);
/* The 0.3 function, for programs built against it: fills the 0.3 struct. */
JG_EXPORT void jg_session_stats(const struct jg_session *s, struct jg_stats *out);
#define jg_session_stats(s, out) jg_session_stats_sized((s), (out), sizeof *(out))

/*
 * Frees the session. Safe at any time, also from inside its callbacks and
 * with transfers in flight: every URL not yet reported is reported once
 * with JG_ECANCELED, no temporary file is left on disk (the partial
 * bodies of jg_options_set_continue stay, to be continued), and no watcher of the
 * session stays on the loop. Called from inside one of the session's
 * callbacks, the session admits nothing more and releases itself
 * before the loop next waits for events; until then any book that ends is
 * reported with JG_ECANCELED. NULL is a no-op.
 */
JG_EXPORT void jg_session_free(struct jg_session *s);

#ifdef __cplusplus
}
#endif

#endif
