#include "conn.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_req.h"
#include "reqlog.h"
#include "response.h"
#include "route.h"
#include "server.h"
#include "stream.h"

#define MAX_HEAD 16384
#define IN_INITIAL 2048
/* How long the peer gets to close after we shut our side down. */
#define LINGER_TIMEOUT 5.0
/* Throttled responses aim at ~4 KB writes, but tick at least every 50 ms so
 * short downloads are still timed accurately. */
#define TICK_BYTES 4096.0
#define TICK_MIN 0.01
#define TICK_MAX 0.05
#define BURST_SECONDS 0.02
/* Batches written per callback before yielding to other connections. */
#define WRITE_ROUNDS 16
#define DRAIN_ROUNDS 16

enum state {
    ST_READ,   /* waiting for (the rest of) a request head */
    ST_DELAY,  /* request parsed, first byte held back */
    ST_SEND,
    ST_STALL,  /* cut by stall=: silent until the client leaves */
    ST_LINGER, /* our side shut down; draining so close() sends FIN, not RST */
};

struct jg_conn {
    struct jg_server *srv;
    struct jg_conn *prev, *next;
    int fd;
    uint64_t id;
    unsigned nreq;
    enum state st;
    ev_io rw, ww;
    ev_timer timer;   /* idle, delay or linger deadline, depending on st */
    ev_timer tick;    /* throttling clock */
    char *in;
    size_t in_len, in_cap;
    uint64_t discard; /* request body bytes still to skip */
    bool active;      /* "start" logged, "end" not yet */
    bool keep_alive;
    /* req's slices point into `in`, which therefore is neither moved nor
     * reallocated while a request is active. */
    struct http_req req;
    struct jg_plan plan;
    struct jg_stream stream;
    char *ob;
    size_t ob_cap, ob_off, ob_len;
    size_t ob_payload; /* payload bytes in the current batch */
    ev_tstamp rate_t0;
};

static struct ev_loop *loop_of(const struct jg_conn *c)
{
    return c->srv->loop;
}

static void arm_timer(struct jg_conn *c, double secs)
{
    ev_timer_stop(loop_of(c), &c->timer);
    if (secs <= 0)
        return;
    ev_timer_set(&c->timer, secs, 0.);
    ev_timer_start(loop_of(c), &c->timer);
}

static void release_response(struct jg_conn *c)
{
    jg_stream_release(&c->stream);
    jg_plan_release(&c->plan);
    free(c->ob);
    c->ob = NULL;
    c->ob_cap = c->ob_off = c->ob_len = c->ob_payload = 0;
}

static void destroy(struct jg_conn *c)
{
    struct jg_server *srv = c->srv;

    ev_io_stop(srv->loop, &c->rw);
    ev_io_stop(srv->loop, &c->ww);
    ev_timer_stop(srv->loop, &c->timer);
    ev_timer_stop(srv->loop, &c->tick);
    release_response(c);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->in);
    free(c);
}

/* Payload bytes that actually left through the socket. */
static uint64_t bytes_sent(const struct jg_conn *c)
{
    size_t unsent = c->ob_len - c->ob_off;

    return c->stream.produced - (unsent < c->ob_payload ? unsent : c->ob_payload);
}

static void end_request(struct jg_conn *c, const char *how)
{
    if (!c->active)
        return;
    jg_reqlog_end(c->srv->log, c->id, c->nreq, c->req.target,
                  c->plan.status, bytes_sent(c), how);
    c->active = false;
    ev_timer_stop(loop_of(c), &c->tick);
    release_response(c);
}

static void peer_gone(struct jg_conn *c)
{
    end_request(c, c->st == ST_STALL ? "stalled" : "client-closed");
    destroy(c);
}

static void reset_close(struct jg_conn *c)
{
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };

    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    destroy(c);
}

static void close_gracefully(struct jg_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->st = ST_LINGER;
    ev_io_stop(loop_of(c), &c->ww);
    ev_timer_stop(loop_of(c), &c->tick);
    ev_io_start(loop_of(c), &c->rw);
    arm_timer(c, LINGER_TIMEOUT);
}

static void enter_read(struct jg_conn *c)
{
    c->st = ST_READ;
    ev_io_stop(loop_of(c), &c->ww);
    ev_io_start(loop_of(c), &c->rw);
    arm_timer(c, c->srv->cfg.idle_timeout);
}

static void consume_input(struct jg_conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

static void next_request(struct jg_conn *c)
{
    consume_input(c, c->req.head_len);
    memset(&c->req, 0, sizeof c->req);
    enter_read(c);
    /* Pipelined requests are handled from the loop rather than recursively
     * so a long pipeline cannot grow the stack. */
    if (c->in_len)
        ev_feed_event(loop_of(c), &c->rw, EV_CUSTOM);
}

static void drop_discard(struct jg_conn *c)
{
    size_t n = c->discard < c->in_len ? (size_t)c->discard : c->in_len;

    consume_input(c, n);
    c->discard -= n;
}

static bool grow_input(struct jg_conn *c)
{
    size_t cap = c->in_cap ? c->in_cap * 2 : IN_INITIAL;
    char *p;

    if (c->st != ST_READ || c->in_cap >= MAX_HEAD)
        return false;
    if (cap > MAX_HEAD)
        cap = MAX_HEAD;
    p = realloc(c->in, cap);
    if (!p)
        return false;
    c->in = p;
    c->in_cap = cap;
    return true;
}

/* Returns false if the connection was destroyed. */
static bool fill_input(struct jg_conn *c)
{
    ssize_t n;

    if (c->in_len == c->in_cap && !grow_input(c)) {
        /* Full while a response is going out: stop reading until it is
         * done; a vanished client will show up as a write error. */
        ev_io_stop(loop_of(c), &c->rw);
        return true;
    }
    n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n > 0) {
        c->in_len += (size_t)n;
        return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return true;
    /* EOF counts as the client leaving, even mid-response: HTTP clients
     * do not half-close, and tests want aborted downloads logged as such. */
    peer_gone(c);
    return false;
}

static void drain(struct jg_conn *c)
{
    char buf[4096];

    for (int i = 0; i < DRAIN_ROUNDS; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        peer_gone(c);
        return;
    }
}

static void apply_cut(struct jg_conn *c, enum jg_cut how)
{
    switch (how) {
    case JG_CUT_RESET:
        end_request(c, "reset");
        reset_close(c);
        return;
    case JG_CUT_SHORT:
        end_request(c, "short");
        close_gracefully(c);
        return;
    case JG_CUT_STALL:
    case JG_CUT_NONE:
        break;
    }
    /* The request stays active: its end is logged when the client leaves.
     * Buffers and the encoder (~256 KB) are not needed any more, and
     * thousands of connections may stall at once. */
    c->st = ST_STALL;
    ev_io_stop(loop_of(c), &c->ww);
    ev_timer_stop(loop_of(c), &c->tick);
    ev_io_start(loop_of(c), &c->rw);
    jg_stream_drop_encoder(&c->stream);
    free(c->ob);
    c->ob = NULL;
    c->ob_cap = c->ob_off = c->ob_len = c->ob_payload = 0;
}

static void response_done(struct jg_conn *c)
{
    end_request(c, "ok");
    if (c->keep_alive)
        next_request(c);
    else
        close_gracefully(c);
}

static uint64_t rate_budget(const struct jg_conn *c)
{
    double allowed;

    if (!c->plan.rate)
        return UINT64_MAX;
    allowed = (double)c->plan.rate *
              (ev_now(loop_of(c)) - c->rate_t0 + BURST_SECONDS);
    if (allowed >= 1.8e19)
        return UINT64_MAX;
    uint64_t a = (uint64_t)allowed;
    uint64_t paced = jg_stream_paced(&c->stream);
    return a > paced ? a - paced : 0;
}

/* 1: everything written, 0: socket full, -1: the peer is gone. */
static int flush(struct jg_conn *c)
{
    while (c->ob_off < c->ob_len) {
        ssize_t n = send(c->fd, c->ob + c->ob_off, c->ob_len - c->ob_off,
                         MSG_NOSIGNAL);
        if (n > 0)
            c->ob_off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        else
            return -1;
    }
    return 1;
}

/* Decides what happens once the buffer is empty.  Returns true to keep
 * pumping. */
static bool after_flush(struct jg_conn *c)
{
    if (c->stream.failed) {
        end_request(c, "reset");
        reset_close(c);
        return false;
    }
    if (jg_stream_done(&c->stream)) {
        response_done(c);
        return false;
    }
    enum jg_cut how = jg_stream_cut(&c->stream);
    if (how != JG_CUT_NONE) {
        apply_cut(c, how);
        return false;
    }
    return true;
}

static void pump(struct jg_conn *c)
{
    for (int i = 0; i < WRITE_ROUNDS; i++) {
        int r = flush(c);
        if (r < 0) {
            peer_gone(c);
            return;
        }
        if (r == 0) {
            ev_io_start(loop_of(c), &c->ww);
            return;
        }
        if (!after_flush(c))
            return;
        uint64_t budget = rate_budget(c);
        c->ob_off = 0;
        c->ob_len = jg_stream_fill(&c->stream, c->ob, c->ob_cap, budget,
                                   &c->ob_payload);
        if (c->ob_len == 0 && !c->stream.failed) {
            /* Throttled: the tick resumes us.  Otherwise the encoder wants
             * another round, which a writable socket grants right away. */
            if (budget == 0)
                ev_io_stop(loop_of(c), &c->ww);
            else
                ev_io_start(loop_of(c), &c->ww);
            return;
        }
    }
    ev_io_start(loop_of(c), &c->ww);
}

static void start_throttle(struct jg_conn *c)
{
    double iv = TICK_BYTES / (double)c->plan.rate;

    if (iv < TICK_MIN)
        iv = TICK_MIN;
    if (iv > TICK_MAX)
        iv = TICK_MAX;
    c->rate_t0 = ev_now(loop_of(c));
    ev_timer_set(&c->tick, iv, iv);
    ev_timer_start(loop_of(c), &c->tick);
}

/* On failure whatever was allocated is left for release_response(). */
static bool prepare_stream(struct jg_conn *c)
{
    size_t hl;
    char *head = jg_head_render(&c->plan, jg_server_date(c->srv),
                                c->keep_alive, &hl);

    if (!head || jg_stream_init(&c->stream, &c->plan, head, hl) < 0)
        return false;
    c->ob_cap = jg_stream_batch_cap(&c->stream);
    c->ob = malloc(c->ob_cap);
    return c->ob != NULL;
}

static void begin_send(struct jg_conn *c)
{
    c->st = ST_SEND;
    ev_timer_stop(loop_of(c), &c->timer);
    if (!prepare_stream(c)) {
        end_request(c, "reset");
        reset_close(c);
        return;
    }
    if (c->plan.rate)
        start_throttle(c);
    pump(c);
}

static void schedule_response(struct jg_conn *c)
{
    c->keep_alive = !c->plan.close;
    if (c->plan.delay_ms == 0) {
        begin_send(c);
        return;
    }
    /* Keep reading meanwhile so a client giving up is noticed. */
    c->st = ST_DELAY;
    arm_timer(c, (double)c->plan.delay_ms / 1000.0);
}

static void start_request(struct jg_conn *c, int error_status)
{
    c->nreq++;
    c->active = true;
    ev_timer_stop(loop_of(c), &c->timer);
    memset(&c->plan, 0, sizeof c->plan);
    memset(&c->stream, 0, sizeof c->stream);
    jg_reqlog_start(c->srv->log, c->id, c->nreq, &c->req);
    if (error_status) {
        jg_route_error(&c->srv->cfg, error_status, &c->plan);
    } else {
        jg_route(&c->srv->cfg, c->srv->fails, &c->req, &c->plan);
        c->discard = c->req.content_length;
    }
    schedule_response(c);
}

static void process_input(struct jg_conn *c)
{
    drop_discard(c);
    if (c->in_len == 0)
        return;
    switch (http_parse_request(c->in, c->in_len, MAX_HEAD, &c->req)) {
    case HTTP_PARSE_INCOMPLETE:
        return;
    case HTTP_PARSE_OK:
        start_request(c, 0);
        return;
    case HTTP_PARSE_TOO_LARGE:
        start_request(c, 431);
        return;
    case HTTP_PARSE_BAD_VERSION:
        start_request(c, 505);
        return;
    case HTTP_PARSE_BAD:
        start_request(c, 400);
        return;
    }
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct jg_conn *c = w->data;

    (void)loop;
    if (c->st == ST_STALL || c->st == ST_LINGER) {
        drain(c);
        return;
    }
    if ((revents & EV_READ) && !fill_input(c))
        return;
    if (c->st == ST_READ)
        process_input(c);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    pump(w->data);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_conn *c = w->data;

    (void)loop;
    (void)revents;
    if (c->st == ST_SEND && !ev_is_active(&c->ww))
        pump(c);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_conn *c = w->data;

    (void)loop;
    (void)revents;
    switch (c->st) {
    case ST_DELAY:
        begin_send(c);
        return;
    case ST_READ:   /* idle keep-alive connection */
    case ST_LINGER: /* peer never closed its side */
        destroy(c);
        return;
    case ST_SEND:
    case ST_STALL:
        return;
    }
}

void jg_conn_open(struct jg_server *srv, int fd)
{
    struct jg_conn *c = calloc(1, sizeof *c);
    int one = 1;

    if (!c) {
        close(fd);
        return;
    }
    /* Responses go out in whole batches; Nagle would only add latency to
     * the tail of each one. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->srv = srv;
    c->fd = fd;
    c->id = ++srv->next_conn_id;
    ev_io_init(&c->rw, on_read, fd, EV_READ);
    ev_io_init(&c->ww, on_write, fd, EV_WRITE);
    ev_init(&c->timer, on_timer);
    ev_init(&c->tick, on_tick);
    c->rw.data = c->ww.data = c->timer.data = c->tick.data = c;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    enter_read(c);
}

void jg_conn_abort(struct jg_conn *c)
{
    end_request(c, "aborted");
    destroy(c);
}
