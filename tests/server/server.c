#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "response.h"

/* The kernel caps this at net.core.somaxconn; ask for as much as allowed
 * since tests open thousands of connections at once. */
#define BACKLOG 65535
#define ACCEPT_PAUSE 0.1

static int parse_bind(const char *addr, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(addr);

    memset(ss, 0, sizeof *ss);
    if (strcmp(addr, "localhost") == 0)
        addr = "127.0.0.1";
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        *len = sizeof *v4;
        return 0;
    }
    /* Accept the URL spelling "[::1]" too. */
    if (n >= 2 && n < sizeof buf && addr[0] == '[' && addr[n - 1] == ']') {
        memcpy(buf, addr + 1, n - 2);
        buf[n - 2] = 0;
        addr = buf;
    }
    if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        *len = sizeof *v6;
        return 0;
    }
    return -1;
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static unsigned get_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int open_listener(struct jg_server *srv)
{
    const char *addr = srv->cfg.bind ? srv->cfg.bind : "127.0.0.1";
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;

    if (parse_bind(addr, &ss, &len) < 0) {
        fprintf(stderr, "jg-testserver: bad bind address '%s'\n", addr);
        return -1;
    }
    set_port(&ss, srv->cfg.port);
    srv->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv->lfd < 0 ||
        setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(srv->lfd, (struct sockaddr *)&ss, len) < 0 ||
        listen(srv->lfd, BACKLOG) < 0 ||
        getsockname(srv->lfd, (struct sockaddr *)&ss, &len) < 0) {
        fprintf(stderr, "jg-testserver: cannot listen on %s port %u: %s\n",
                addr, srv->cfg.port, strerror(errno));
        return -1;
    }
    srv->port = get_port(&ss);
    return 0;
}

static bool out_of_descriptors(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct jg_server *srv = w->data;

    (void)revents;
    for (;;) {
        int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            jg_conn_open(srv, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (out_of_descriptors(errno)) {
            /* The pending connection stays readable: without a pause the
             * loop would spin on it. */
            ev_io_stop(loop, &srv->accept_w);
            ev_timer_set(&srv->accept_pause, ACCEPT_PAUSE, 0.);
            ev_timer_start(loop, &srv->accept_pause);
        }
        return;
    }
}

static void on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_server *srv = w->data;

    (void)revents;
    ev_io_start(loop, &srv->accept_w);
}

static void release(struct jg_server *srv)
{
    if (srv->lfd >= 0)
        close(srv->lfd);
    srv->lfd = -1;
    jg_failtab_free(srv->fails);
    jg_reqlog_close(srv->log);
    srv->fails = NULL;
    srv->log = NULL;
}

int jg_server_start(struct jg_server *srv, struct ev_loop *loop,
                    const struct jg_config *cfg)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->cfg = *cfg;
    srv->lfd = -1;
    srv->fails = jg_failtab_new();
    if (!srv->fails) {
        fprintf(stderr, "jg-testserver: out of memory\n");
        return -1;
    }
    if (cfg->log_path && !(srv->log = jg_reqlog_open(cfg->log_path))) {
        fprintf(stderr, "jg-testserver: cannot open log %s: %s\n",
                cfg->log_path, strerror(errno));
        release(srv);
        return -1;
    }
    if (open_listener(srv) < 0) {
        release(srv);
        return -1;
    }
    ev_io_init(&srv->accept_w, on_accept, srv->lfd, EV_READ);
    ev_init(&srv->accept_pause, on_accept_pause);
    srv->accept_w.data = srv->accept_pause.data = srv;
    ev_io_start(loop, &srv->accept_w);
    return 0;
}

void jg_server_stop(struct jg_server *srv)
{
    ev_io_stop(srv->loop, &srv->accept_w);
    ev_timer_stop(srv->loop, &srv->accept_pause);
    while (srv->conns)
        jg_conn_abort(srv->conns);
    release(srv);
}

const char *jg_server_date(struct jg_server *srv)
{
    time_t now = (time_t)ev_now(srv->loop);

    if (now != srv->date_sec) {
        jg_http_date(now, srv->date, sizeof srv->date);
        srv->date_sec = now;
    }
    return srv->date;
}
