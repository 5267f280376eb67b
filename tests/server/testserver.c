/* jg-testserver: scriptable HTTP/1.1 server for juggle's tests and
 * benchmarks.  See README.md for the options and query parameters. */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "server.h"

#define DEFAULT_BOOK_SIZE 100000
#define DEFAULT_IDLE_TIMEOUT 120.0

static void usage(FILE *f)
{
    fputs("usage: jg-testserver [--port N] [--bind ADDR] [--root DIR]\n"
          "                     [--log FILE] [--delay MS] [--rate BYTES_PER_SEC]\n"
          "                     [--book-size BYTES] [--port-file FILE]\n"
          "                     [--idle-timeout SECONDS] [--route PATH?QUERY]...\n",
          f);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return *s && !*end && !errno && *out >= 0;
}

/* "PATH?QUERY": PATH starts with '/', and the '?' is there. */
static bool add_route(const char *arg, struct jg_config *cfg)
{
    const char *q = strchr(arg, '?');

    if (arg[0] != '/' || !q || cfg->n_routes == JG_ROUTES_MAX)
        return false;
    cfg->routes[cfg->n_routes].spec = arg;
    cfg->routes[cfg->n_routes].path_len = (size_t)(q - arg);
    cfg->n_routes++;
    return true;
}

static bool apply_option(int opt, const char *arg, struct jg_config *cfg)
{
    uint64_t v;

    switch (opt) {
    case 'p':
        if (!parse_u64(arg, &v) || v > 65535)
            return false;
        cfg->port = (unsigned)v;
        return true;
    case 'b': cfg->bind = arg; return true;
    case 'r': cfg->root = arg; return true;
    case 'l': cfg->log_path = arg; return true;
    case 'f': cfg->port_file = arg; return true;
    case 'd': return parse_u64(arg, &cfg->delay_ms);
    case 'R': return parse_u64(arg, &cfg->rate);
    case 's': return parse_u64(arg, &cfg->book_size);
    case 'i': return parse_seconds(arg, &cfg->idle_timeout);
    case 'a': return add_route(arg, cfg);
    default: return false;
    }
}

/* Returns 0 to run, otherwise the exit status. */
static int parse_args(int argc, char **argv, struct jg_config *cfg)
{
    static const struct option opts[] = {
        { "port", required_argument, NULL, 'p' },
        { "bind", required_argument, NULL, 'b' },
        { "root", required_argument, NULL, 'r' },
        { "log", required_argument, NULL, 'l' },
        { "delay", required_argument, NULL, 'd' },
        { "rate", required_argument, NULL, 'R' },
        { "book-size", required_argument, NULL, 's' },
        { "port-file", required_argument, NULL, 'f' },
        { "idle-timeout", required_argument, NULL, 'i' },
        { "route", required_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return -1;
        }
        if (opt == '?' || !apply_option(opt, optarg, cfg)) {
            if (opt != '?')
                fprintf(stderr, "jg-testserver: bad value '%s'\n", optarg);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* Thousands of simultaneous connections need more than the usual 1024
 * descriptors. */
static void raise_nofile_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Written under a temporary name and renamed so a polling reader never
 * sees a partial number. */
static int write_port_file(const char *path, unsigned port)
{
    char *tmp = NULL;
    FILE *f;
    int ok;

    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
        return -1;
    f = fopen(tmp, "w");
    ok = f && fprintf(f, "%u\n", port) > 0;
    ok = f && fclose(f) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        fprintf(stderr, "jg-testserver: cannot write %s: %s\n", path,
                strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

/* SIGUSR1: every generated body changes, as a book on a real server
 * does between two runs (tests of continuing a download). */
static void on_usr1(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct jg_server *srv = w->data;

    (void)loop;
    (void)revents;
    srv->cfg.generation++;
    jg_reqlog_generation(srv->log, srv->cfg.generation);
}

static int serve(struct ev_loop *loop, const struct jg_config *cfg)
{
    struct jg_server srv;
    ev_signal sigterm, sigint, sigusr1;

    if (jg_server_start(&srv, loop, cfg) < 0)
        return 1;
    if (cfg->port_file && write_port_file(cfg->port_file, srv.port) < 0) {
        jg_server_stop(&srv);
        return 1;
    }
    printf("PORT %u\n", srv.port);
    fflush(stdout);
    ev_signal_init(&sigterm, on_signal, SIGTERM);
    ev_signal_init(&sigint, on_signal, SIGINT);
    ev_signal_init(&sigusr1, on_usr1, SIGUSR1);
    sigusr1.data = &srv;
    ev_signal_start(loop, &sigterm);
    ev_signal_start(loop, &sigint);
    ev_signal_start(loop, &sigusr1);
    ev_run(loop, 0);
    ev_signal_stop(loop, &sigterm);
    ev_signal_stop(loop, &sigint);
    ev_signal_stop(loop, &sigusr1);
    jg_server_stop(&srv);
    return 0;
}

int main(int argc, char **argv)
{
    struct jg_config cfg = {
        .book_size = DEFAULT_BOOK_SIZE,
        .idle_timeout = DEFAULT_IDLE_TIMEOUT,
    };
    struct ev_loop *loop;
    int rc = parse_args(argc, argv, &cfg);

    if (rc)
        return rc < 0 ? 0 : rc;
    raise_nofile_limit();
    /* Writes to vanished clients must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    loop = ev_default_loop(EVFLAG_AUTO);
    if (!loop) {
        fprintf(stderr, "jg-testserver: cannot initialise libev\n");
        return 1;
    }
    rc = serve(loop, &cfg);
    ev_loop_destroy(loop);
    return rc;
}
