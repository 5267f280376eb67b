/* Listening socket, connection registry and the state shared by all
 * connections.  One instance lives in main(); nothing here is global. */
#ifndef JG_SERVER_H
#define JG_SERVER_H

#include <ev.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "failtab.h"
#include "reqlog.h"

struct jg_conn;

struct jg_server {
    struct ev_loop *loop;
    struct jg_config cfg;
    int lfd;
    unsigned port;
    ev_io accept_w;
    ev_timer accept_pause;  /* backs off while out of descriptors */
    struct jg_conn *conns;  /* all open connections, for shutdown */
    uint64_t next_conn_id;
    struct jg_failtab *fails;
    struct jg_reqlog *log;
    time_t date_sec;        /* Date header cache: formatted once a second */
    char date[40];
};

/* Binds, listens and starts accepting.  Returns -1 with a message on
 * stderr on failure (everything acquired so far is released). */
int jg_server_start(struct jg_server *srv, struct ev_loop *loop,
                    const struct jg_config *cfg);

/* Closes every connection (logging interrupted requests) and frees all
 * resources. */
void jg_server_stop(struct jg_server *srv);

/* Current Date header value. */
const char *jg_server_date(struct jg_server *srv);

#endif
