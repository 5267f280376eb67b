/*
 * juggled: a small daemon that embeds juggle in a libev loop of its own.
 *
 * Clients connect to a UNIX stream socket and send URLs (or bare ebook
 * numbers) one per line; every non-empty line gets exactly one reply line:
 *
 *   URL or NUMBER   ok INDEX | error REASON
 *   STATS           one line of JSON: running totals
 *   anything else   error unknown command
 *
 * Books download and are counted continuously, in the order clients sent
 * them. SIGTERM or SIGINT drains: the socket goes away, what is in flight
 * finishes, what is queued is never started; a second signal stops at once.
 *
 * It uses only juggle.h, libev and libc, and is meant to be copied. Each
 * client is an ev_io with a bounded line buffer and a bounded reply buffer,
 * so no client can make the daemon block or grow without limit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, struct ucred */
#endif
#include "juggle.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum {
	LINE_MAX_BYTES = JG_URL_MAX, /* a longer line cannot be a URL */
	READ_CHUNK = 4096,           /* per event: a client flooding lines cannot stall the loop */
	OUT_MAX = 64 * 1024,         /* replies a client may leave unread before it is dropped */
	REPLY_MAX = 512,
};

struct client {
	ev_io io;
	struct daemon *d;
	struct client *prev, *next;
	char *out;
	size_t out_len, out_cap;
	size_t in_len;
	int eof;  /* the client sent its last line: close once the replies are out */
	int drop; /* close at the end of this callback */
	char in[LINE_MAX_BYTES + 1]; /* one line and its newline */
};

struct daemon {
	struct ev_loop *loop;
	struct jg_session *session;
	struct jg_pool *pool;
	const char *socket_path;
	int listen_fd;
	dev_t sock_dev;
	ino_t sock_ino;
	ev_io listener;
	ev_timer accept_pause;
	ev_signal sigterm, sigint;
	struct client *clients;
	unsigned n_clients, max_clients;
	uint64_t max_queue;
	const char *log_path;
	FILE *log;
	uint64_t added;    /* URLs accepted: the next one's index */
	uint64_t ok, failed, cancelled, words;
	ev_tstamp started;
	int draining, aborted;
};

static const char usage_text[] =
"Usage: juggled --socket PATH -o DIR [OPTION]...\n"
"Download and count the URLs that clients send, one per line, on a UNIX socket.\n"
"\n"
"  -s, --socket PATH        socket to listen on; its directory must be yours alone,\n"
"                           and every directory above it yours or root's\n"
"  -o, --output DIR         directory for the books\n"
"      --mirror URL         mirror for bare ebook numbers [https://www.gutenberg.org]\n"
"  -j, --jobs N             concurrent transfers [64]\n"
"      --per-host N         concurrent transfers per host name [8]\n"
"  -w, --workers N          counting processes [online CPUs]\n"
"      --stall-timeout S    abort a transfer when no byte came for S seconds [60]\n"
"      --retries N          retries on transient failures [3]\n"
"      --log FILE           append one JSON line per finished book to FILE\n"
"      --max-clients N      clients connected at once [64]\n"
"      --max-queue N        URLs waiting for a transfer slot [100000]\n"
"  -h, --help               show this help\n"
"\n"
"Protocol, one reply line per line: URL or NUMBER -> 'ok INDEX' or 'error REASON';\n"
"STATS -> a JSON line of totals. SIGTERM drains and exits 0; a second one exits 1.\n";

/* ---- options ------------------------------------------------------------ */

__attribute__((format(printf, 1, 2), noreturn))
static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("juggled: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'juggled --help' for more information.\n", stderr);
	exit(2);
}

static double parse_number(const char *opt, const char *arg, double lo, double hi, int whole)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= lo && v <= hi) || (whole && v != (double)(uint64_t)v))
		usage_error("%s: invalid value '%s' (expected %s%g to %g)", opt, arg,
		            whole ? "a whole number from " : "", lo, hi);
	return v;
}

static unsigned parse_count(const char *opt, const char *arg, unsigned lo, unsigned hi)
{
	return (unsigned)parse_number(opt, arg, lo, hi, 1);
}

static void check(int rc, const char *opt, const char *arg)
{
	if (rc != JG_OK)
		usage_error("%s: invalid value '%s'", opt, arg);
}

enum { OPT_MIRROR = 256, OPT_PER_HOST, OPT_STALL_TIMEOUT, OPT_RETRIES, OPT_LOG, OPT_MAX_CLIENTS,
       OPT_MAX_QUEUE };

static const struct option long_options[] = {
	{"socket", required_argument, NULL, 's'},
	{"output", required_argument, NULL, 'o'},
	{"mirror", required_argument, NULL, OPT_MIRROR},
	{"jobs", required_argument, NULL, 'j'},
	{"per-host", required_argument, NULL, OPT_PER_HOST},
	{"workers", required_argument, NULL, 'w'},
	{"stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT},
	{"retries", required_argument, NULL, OPT_RETRIES},
	{"log", required_argument, NULL, OPT_LOG},
	{"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
	{"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Returns the number of worker processes asked for (0: as many as CPUs). */
static unsigned parse_args(struct daemon *d, struct jg_options *o, int argc, char **argv)
{
	unsigned workers = 0;
	int opt, have_output = 0;
	while ((opt = getopt_long(argc, argv, "s:o:j:w:h", long_options, NULL)) != -1) {
		switch (opt) {
		case 's': d->socket_path = optarg; break;
		case 'o': check(jg_options_set_output_dir(o, optarg), "--output", optarg); have_output = 1; break;
		case OPT_MIRROR: check(jg_options_set_mirror(o, optarg), "--mirror", optarg); break;
		case 'j': check(jg_options_set_jobs(o, parse_count("--jobs", optarg, 1, 100000)), "--jobs", optarg); break;
		case OPT_PER_HOST:
			check(jg_options_set_per_host(o, parse_count("--per-host", optarg, 1, 100000)), "--per-host", optarg);
			break;
		case 'w': workers = parse_count("--workers", optarg, 1, 256); break;
		case OPT_STALL_TIMEOUT:
			check(jg_options_set_stall_timeout(o, parse_number("--stall-timeout", optarg, 0.001, 86400, 0)),
			      "--stall-timeout", optarg);
			break;
		case OPT_RETRIES:
			check(jg_options_set_retries(o, parse_count("--retries", optarg, 0, 100)), "--retries", optarg);
			break;
		case OPT_LOG: d->log_path = optarg; break;
		case OPT_MAX_CLIENTS: d->max_clients = parse_count("--max-clients", optarg, 1, 100000); break;
		case OPT_MAX_QUEUE: d->max_queue = parse_count("--max-queue", optarg, 1, 100000000); break;
		case 'h': fputs(usage_text, stdout); exit(0);
		default: fputs("Try 'juggled --help' for more information.\n", stderr); exit(2);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!d->socket_path)
		usage_error("%s", "--socket PATH is required");
	if (!have_output)
		usage_error("%s", "-o DIR is required");
	return workers;
}

/* Every transfer holds a descriptor: allow as many as the hard limit does. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- the listening socket ----------------------------------------------- */

/*
 * Opens the directory that will hold the socket and checks that nobody but
 * us can create, replace or remove names in it. Checking the descriptor
 * (not the name) leaves no gap between the check and its use; O_NOFOLLOW
 * refuses a symbolic link, which someone else might redirect.
 */
static int open_private_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;
		if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			fprintf(stderr, "juggled: %s: socket directory is a symbolic link; give the directory itself\n",
			        dir);
		else
			fprintf(stderr, "juggled: %s: socket directory: %s\n", dir, strerror(err));
	} else if (st.st_uid != geteuid()) {
		fprintf(stderr, "juggled: %s: socket directory belongs to uid %u, not to us (uid %u)\n", dir,
		        (unsigned)st.st_uid, (unsigned)geteuid());
	} else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		fprintf(stderr, "juggled: %s: socket directory is writable by group or others (mode %04o); "
		        "use a directory only you can write to\n", dir, (unsigned)(st.st_mode & 07777));
	} else {
		return fd;
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

/*
 * Why someone else could change what directory `st` holds, or NULL: it
 * must belong to us or to root and be writable by nobody else, unless it
 * is root's and sticky, as /tmp is: others may add names there but not
 * rename or remove ours.
 */
static const char *unsafe_ancestor(const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return "belongs to another user";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !((st->st_mode & S_ISVTX) && st->st_uid == 0))
		return "is writable by group or others";
	return NULL;
}

/*
 * Checks every directory above `dir` along the absolute path `abs`
 * (`dir` itself is checked by open_private_dir). A symbolic link on the
 * way is not checked itself: the directory holding it is, and so is the
 * directory it leads to, since the caller walks the resolved path too.
 */
static int check_prefixes(const char *abs, size_t dir_len)
{
	char prefix[PATH_MAX];
	for (size_t end = 1; end < dir_len; end++) {
		if (abs[end] != '/' && end != 1)
			continue;
		size_t n = end == 1 ? 1 : end; /* "/", then each "/a/b" before a slash */
		memcpy(prefix, abs, n);
		prefix[n] = '\0';
		struct stat st;
		if (lstat(prefix, &st) < 0) {
			fprintf(stderr, "juggled: %s: %s\n", prefix, strerror(errno));
			return -1;
		}
		if (S_ISLNK(st.st_mode))
			continue;
		const char *why = unsafe_ancestor(&st);
		if (why) {
			fprintf(stderr, "juggled: %s: an ancestor of the socket directory %s (uid %u, mode "
			        "%04o): whoever can write it can swap the socket's directory; use a path "
			        "whose every directory is yours or root's alone\n",
			        prefix, why, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
			return -1;
		}
	}
	return 0;
}

/*
 * OpenSSH's rule for the files it trusts: not only the socket's
 * directory but each one above it, as named (its links' directories) and
 * as it really is (where the links lead).
 */
static int check_ancestors(const char *dir)
{
	char abs[PATH_MAX], real[PATH_MAX];
	if (dir[0] == '/') {
		snprintf(abs, sizeof abs, "%s", dir);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof cwd) ||
		    snprintf(abs, sizeof abs, "%s/%s", cwd, dir) >= (int)sizeof abs) {
			fprintf(stderr, "juggled: %s: cannot tell where it is\n", dir);
			return -1;
		}
	}
	if (!realpath(dir, real)) {
		fprintf(stderr, "juggled: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	size_t n = strlen(abs);
	while (n > 1 && abs[n - 1] == '/')
		n--;
	return check_prefixes(abs, n) < 0 || check_prefixes(real, strlen(real)) < 0 ? -1 : 0;
}

/*
 * Makes room for our socket at `path`: nothing there, or a socket nobody
 * listens on (a daemon that died), which is removed. Anything else is
 * someone's and stays as it is: a live daemon's socket, a file, a link.
 */
static int clear_socket_path(const char *path, const struct sockaddr_un *addr)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "juggled: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "juggled: %s: exists and is not a socket; not touching it\n", path);
		return -1;
	}
	/* Non-blocking: a live daemon with a full backlog answers EAGAIN. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "juggled: socket: %s\n", strerror(errno));
		return -1;
	}
	int rc = connect(fd, (const struct sockaddr *)addr, sizeof *addr);
	int err = errno;
	close(fd);
	if (rc == 0 || err == EAGAIN) {
		fprintf(stderr, "juggled: %s: another daemon is listening there\n", path);
		return -1;
	}
	if (err != ECONNREFUSED) {
		fprintf(stderr, "juggled: %s: cannot tell whether the socket is in use: %s\n", path, strerror(err));
		return -1;
	}
	if (unlink(path) < 0) {
		fprintf(stderr, "juggled: %s: cannot remove the stale socket: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(stderr, "juggled: %s: removed a stale socket\n", path);
	return 0;
}

static int bind_socket(struct daemon *d, const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "juggled: socket: %s\n", strerror(errno));
		return -1;
	}
	/* The file is born 0600: fchmod() on a socket does not reach its file,
	 * and chmod() after bind() would leave a moment when anyone may connect. */
	mode_t old = umask(0177);
	int rc = bind(fd, (const struct sockaddr *)addr, sizeof *addr);
	umask(old);
	if (rc < 0) {
		fprintf(stderr, "juggled: %s: %s\n", d->socket_path, strerror(errno));
		close(fd);
		return -1;
	}
	struct stat st;
	if (listen(fd, SOMAXCONN) < 0 || lstat(d->socket_path, &st) < 0) {
		fprintf(stderr, "juggled: %s: %s\n", d->socket_path, strerror(errno));
		unlink(d->socket_path);
		close(fd);
		return -1;
	}
	/* Remembered so that at exit we remove this socket and nothing else. */
	d->sock_dev = st.st_dev;
	d->sock_ino = st.st_ino;
	return fd;
}

static int listen_on(struct daemon *d)
{
	const char *path = d->socket_path;
	struct sockaddr_un addr;
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	size_t len = strlen(path);
	if (len == 0 || path[len - 1] == '/' || len >= sizeof addr.sun_path) {
		fprintf(stderr, "juggled: %s: not a socket path (a file name of at most %zu bytes)\n", path,
		        sizeof addr.sun_path - 1);
		return -1;
	}
	memcpy(addr.sun_path, path, len + 1);

	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	int dirfd = open_private_dir(dir);
	if (dirfd < 0)
		return -1;
	if (check_ancestors(dir) < 0) {
		close(dirfd);
		return -1;
	}
	/* Two daemons starting together must not both find the same socket
	 * stale and remove each other's: hold the directory's lock from the
	 * check until we listen. */
	int fd = -1;
	if (flock(dirfd, LOCK_EX) < 0)
		fprintf(stderr, "juggled: %s: cannot lock: %s\n", dir, strerror(errno));
	else if (clear_socket_path(path, &addr) == 0)
		fd = bind_socket(d, &addr);
	close(dirfd);
	d->listen_fd = fd;
	return fd < 0 ? -1 : 0;
}

static void stop_listening(struct daemon *d)
{
	if (d->listen_fd < 0)
		return;
	ev_io_stop(d->loop, &d->listener);
	ev_timer_stop(d->loop, &d->accept_pause);
	close(d->listen_fd);
	d->listen_fd = -1;
	struct stat st;
	if (lstat(d->socket_path, &st) == 0 && st.st_dev == d->sock_dev && st.st_ino == d->sock_ino)
		unlink(d->socket_path);
}

/* ---- clients ------------------------------------------------------------ */

static void client_flush(struct client *c)
{
	while (c->out_len > 0) {
		ssize_t n = send(c->io.fd, c->out, c->out_len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				c->out_len = 0; /* gone: nothing more will reach it */
				c->drop = 1;
			}
			return;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
}

__attribute__((format(printf, 2, 3)))
static void reply(struct client *c, const char *fmt, ...)
{
	char line[REPLY_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || c->drop)
		return;
	size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
	line[len++] = '\n';
	if (c->out_len + len > OUT_MAX)
		client_flush(c);
	if (c->out_len + len > OUT_MAX) {
		/* It sends but does not read: its replies would pile up here. */
		c->drop = 1;
		return;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		while (cap < c->out_len + len)
			cap *= 2;
		char *out = realloc(c->out, cap);
		if (!out) {
			c->drop = 1;
			return;
		}
		c->out = out;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, line, len);
	c->out_len += len;
}

static void reply_stats(struct client *c)
{
	const struct daemon *d = c->d;
	struct jg_stats st;
	jg_session_stats(d->session, &st);
	reply(c, "{\"added\":%" PRIu64 ",\"queued\":%" PRIu64 ",\"active\":%" PRIu64
	      ",\"waiting\":%" PRIu64 ",\"counting\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64
	      ",\"bytes\":%" PRIu64 ",\"words\":%" PRIu64 ",\"retries\":%" PRIu64
	      ",\"stall_max_ms\":%.3f,\"stall_p99_ms\":%.3f,\"uptime_s\":%.3f,\"clients\":%u"
	      ",\"draining\":%s}",
	      st.added, st.queued, st.active, st.waiting, st.counting, st.ok, st.failed, st.bytes, d->words,
	      st.retries, st.stall_max * 1e3, st.stall_p99 * 1e3, ev_now(d->loop) - d->started,
	      d->n_clients, d->draining ? "true" : "false");
}

static void add_url(struct client *c, const char *url)
{
	struct daemon *d = c->d;
	struct jg_stats st;
	jg_session_stats(d->session, &st);
	if (st.queued >= d->max_queue) {
		reply(c, "error queue full");
		return;
	}
	int rc = jg_session_add_url(d->session, url, NULL);
	if (rc != JG_OK) {
		reply(c, "error %s", jg_strerror(rc));
		return;
	}
	/* The session numbers its URLs in the order it accepted them. */
	reply(c, "ok %" PRIu64, d->added++);
}

static void handle_line(struct client *c, char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--; /* nc -C, telnet */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	while (len > 0 && (*line == ' ' || *line == '\t'))
		line++, len--;
	if (len == 0)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch < 0x20 || ch == 0x7f) {
			reply(c, "error bad bytes");
			return;
		}
	}
	line[len] = '\0';
	if (strcasecmp(line, "STATS") == 0)
		reply_stats(c);
	else if (strspn(line, "0123456789") == len || strstr(line, "://"))
		add_url(c, line); /* the library checks the rest */
	else
		reply(c, "error unknown command");
}

static void client_read(struct client *c)
{
	size_t room = sizeof c->in - c->in_len;
	ssize_t n = recv(c->io.fd, c->in + c->in_len, room < READ_CHUNK ? room : READ_CHUNK, 0);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->drop = 1;
		return;
	}
	if (n == 0) {
		c->eof = 1;
		if (c->in_len > 0) /* a last line without its newline */
			handle_line(c, c->in, c->in_len);
		c->in_len = 0;
		return;
	}
	c->in_len += (size_t)n;
	char *p = c->in, *end = c->in + c->in_len, *nl;
	while (!c->drop && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		handle_line(c, p, (size_t)(nl - p));
		p = nl + 1;
	}
	c->in_len = (size_t)(end - p);
	memmove(c->in, p, c->in_len);
	if (!c->drop && c->in_len == sizeof c->in) {
		reply(c, "error line too long");
		c->drop = 1;
	}
}

static void client_close(struct client *c)
{
	struct daemon *d = c->d;
	ev_io_stop(d->loop, &c->io);
	close(c->io.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		d->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->n_clients--;
	free(c->out);
	free(c);
}

static void on_client(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = (struct client *)w;
	if ((revents & EV_READ) && !c->eof)
		client_read(c);
	client_flush(c); /* on a drop too: the last reply says why */
	if (c->drop || (c->eof && c->out_len == 0)) {
		client_close(c);
		return;
	}
	/* Read while it may send; wait to write only while replies wait. */
	int want = (c->eof ? 0 : EV_READ) | (c->out_len ? EV_WRITE : 0);
	if ((w->events & (EV_READ | EV_WRITE)) != want) {
		ev_io_stop(loop, w);
		ev_io_set(w, w->fd, want);
		ev_io_start(loop, w);
	}
}

/* Refused connections get one line, sent without waiting, and are closed. */
static void refuse(int fd, const char *line)
{
	ssize_t n = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	close(fd);
}

static void client_new(struct daemon *d, int fd)
{
	/* The socket is 0600 already; checking the peer too keeps others out
	 * even if someone loosens its mode. */
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
		refuse(fd, "error permission denied\n");
		return;
	}
	if (d->n_clients >= d->max_clients) {
		refuse(fd, "error too many clients\n");
		return;
	}
	struct client *c = calloc(1, sizeof *c);
	if (!c) {
		refuse(fd, "error out of memory\n");
		return;
	}
	c->d = d;
	c->next = d->clients;
	if (d->clients)
		d->clients->prev = c;
	d->clients = c;
	d->n_clients++;
	ev_io_init(&c->io, on_client, fd, EV_READ);
	ev_io_start(d->loop, &c->io);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *d = w->data;
	/* A few per event, so a connection storm shares the loop with transfers. */
	for (int i = 0; i < 16; i++) {
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			client_new(d, fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* The connection stays pending and the socket readable:
			 * pause instead of spinning on it. */
			ev_io_stop(loop, w);
			ev_timer_start(loop, &d->accept_pause);
		}
		return;
	}
}

static void on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	if (d->listen_fd >= 0)
		ev_io_start(loop, &d->listener);
}

/* ---- books and shutdown ------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/*
 * A string from outside (a URL, a server's reason) for a terminal: control
 * bytes as \xNN, so that none of them (ESC above all) reaches it raw.
 */
static void tty_string(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
}

static void log_book(struct daemon *d, const struct jg_result *r)
{
	const char *why = r->error && *r->error ? r->error : jg_strerror(r->err);
	fprintf(stderr, "juggled: #%" PRIu64 " ", r->index);
	tty_string(stderr, r->url);
	if (r->err == JG_OK) {
		fputs(": saved ", stderr);
		tty_string(stderr, r->file);
		fprintf(stderr, " (%" PRIu64 " bytes, %" PRIu64 " words)", r->bytes, r->words);
		if (r->foreign_file) {
			fputs("; ", stderr);
			tty_string(stderr, r->foreign_file);
			fputs(" was taken", stderr);
		}
		fputc('\n', stderr);
	} else {
		fputs(": failed: ", stderr);
		tty_string(stderr, why);
		fputc('\n', stderr);
	}
	if (!d->log)
		return;
	fprintf(d->log, "{\"index\":%" PRIu64 ",\"url\":", r->index);
	json_string(d->log, r->url);
	fputs(",\"final_url\":", d->log);
	json_string(d->log, r->final_url);
	fprintf(d->log, ",\"status\":\"%s\",\"file\":", r->err == JG_OK ? "ok" : "failed");
	if (r->file)
		json_string(d->log, r->file);
	else
		fputs("null", d->log);
	fputs(",\"error\":", d->log);
	json_string(d->log, r->err == JG_OK ? "" : why);
	fprintf(d->log, ",\"http_code\":%ld,\"bytes\":%" PRIu64 ",\"words\":%" PRIu64
	        ",\"distinct\":%" PRIu64 ",\"attempts\":%u,\"elapsed\":%.3f}\n",
	        r->http_code, r->bytes, r->words, r->distinct, r->attempts, r->elapsed);
	fflush(d->log); /* whole lines, so a reader never sees half of one */
}

/* Transfers, retries and books the workers are counting. */
static uint64_t in_flight(const struct daemon *d)
{
	struct jg_stats st;
	jg_session_stats(d->session, &st);
	return st.active + st.waiting + st.counting;
}

static void maybe_drained(struct daemon *d)
{
	if (d->draining && in_flight(d) == 0)
		ev_break(d->loop, EVBREAK_ALL); /* main frees the session, outside its callbacks */
}

static void on_book(struct jg_session *s, const struct jg_result *r, void *user)
{
	struct daemon *d = user;
	if (r->err == JG_ECANCELED) {
		d->cancelled++; /* reported from jg_session_free(): do not call the session */
		return;
	}
	if (r->err == JG_OK)
		d->ok++;
	else
		d->failed++;
	if (r->counted)
		d->words += r->words;
	log_book(d, r);
	maybe_drained(d);
}

static void on_idle(struct jg_session *s, void *user)
{
	maybe_drained(user);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;
	if (d->draining) {
		d->aborted = 1; /* asked twice: freeing the session cancels the rest */
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	d->draining = 1;
	stop_listening(d);
	jg_session_drain(d->session);
	fprintf(stderr, "juggled: draining: %" PRIu64 " in flight (signal again to stop at once)\n",
	        in_flight(d));
	/* Nothing in flight: done now (the idle report would also come). */
	maybe_drained(d);
}

static int serve(struct daemon *d)
{
	jg_session_on_book(d->session, on_book, d);
	jg_session_on_idle(d->session, on_idle, d);
	ev_signal_init(&d->sigterm, on_signal, SIGTERM);
	ev_signal_init(&d->sigint, on_signal, SIGINT);
	d->sigterm.data = d->sigint.data = d;
	ev_signal_start(d->loop, &d->sigterm);
	ev_signal_start(d->loop, &d->sigint);
	ev_io_init(&d->listener, on_accept, d->listen_fd, EV_READ);
	d->listener.data = d;
	ev_io_start(d->loop, &d->listener);
	ev_timer_init(&d->accept_pause, on_accept_pause, 0.1, 0);
	d->accept_pause.data = d;
	d->started = ev_now(d->loop);
	fprintf(stderr, "juggled: listening on %s\n", d->socket_path);

	ev_run(d->loop, 0);

	struct jg_stats st;
	jg_session_stats(d->session, &st);
	while (d->clients)
		client_close(d->clients);
	stop_listening(d);
	ev_signal_stop(d->loop, &d->sigterm);
	ev_signal_stop(d->loop, &d->sigint);
	/* Reports whatever did not finish as cancelled and removes its
	 * temporary files: after a drain only the URLs never started. */
	jg_session_free(d->session);
	d->session = NULL;
	if (d->aborted) {
		fprintf(stderr, "juggled: stopped: %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64 " cancelled\n",
		        d->ok, d->failed, d->cancelled);
		return 1;
	}
	fprintf(stderr, "juggled: drained: %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64 " not started\n",
	        d->ok, d->failed, st.queued);
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d;
	memset(&d, 0, sizeof d);
	d.listen_fd = -1;
	d.max_clients = 64;
	d.max_queue = 100000;
	signal(SIGPIPE, SIG_IGN); /* a client that left must not kill us */

	struct jg_options *opts = jg_options_new();
	if (!opts) {
		fputs("juggled: out of memory\n", stderr);
		return 2;
	}
	unsigned workers = parse_args(&d, opts, argc, argv);
	if (!workers) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		workers = cpus > 0 ? (unsigned)cpus : 1;
	}
	raise_fd_limit();

	/* Workers first: forked while this process has one thread, and before
	 * it opens the socket and the log, which they must not inherit. */
	char why[JG_ERRBUF_SIZE];
	if (jg_pool_new(&d.pool, workers, why) != JG_OK) {
		fprintf(stderr, "juggled: %s\n", why);
		jg_options_free(opts);
		return 2;
	}
	jg_options_set_pool(opts, d.pool);
	/* Words per book; no top-N lists, and no table of every word (which
	 * only grows, and which the daemon never reports). */
	jg_options_set_counting(opts, JG_COUNT_NO_TOTALS, 0);
	/* A daemon runs for ever: a finished URL leaves the session (memory
	 * stays flat) and may be sent again, a failed one to be retried. */
	jg_options_set_forget_finished(opts, 1);
	int status = 2;
	if (jg_global_init() != JG_OK) {
		fputs("juggled: cannot initialise libcurl or c-ares\n", stderr);
		jg_options_free(opts);
		jg_pool_free(d.pool);
		return 2;
	}
	d.loop = ev_loop_new(EVFLAG_AUTO);
	if (!d.loop) {
		fputs("juggled: cannot create an event loop\n", stderr);
		goto out;
	}
	if (d.log_path) {
		/* Appended, never followed through a link, readable by us alone. */
		int fd = open(d.log_path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || !(d.log = fdopen(fd, "a"))) {
			fprintf(stderr, "juggled: %s: %s\n", d.log_path, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
	}
	if (listen_on(&d) < 0)
		goto out;
	if (jg_session_new(&d.session, d.loop, opts, why) != JG_OK) {
		fprintf(stderr, "juggled: %s\n", why);
		goto out;
	}
	status = serve(&d);
out:
	jg_options_free(opts);
	if (d.loop)
		stop_listening(&d);
	if (d.log)
		fclose(d.log);
	jg_pool_free(d.pool); /* its watchers are on the loop: before destroying it */
	if (d.loop)
		ev_loop_destroy(d.loop);
	jg_global_cleanup();
	return status;
}
