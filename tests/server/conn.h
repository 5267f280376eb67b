/* One client connection: reads requests, sends responses, applies the
 * scripted misbehaviour, and keeps the connection alive between requests. */
#ifndef JG_CONN_H
#define JG_CONN_H

struct jg_server;
struct jg_conn;

/* Takes ownership of fd (a non-blocking accepted socket); closes it if the
 * connection cannot be set up. */
void jg_conn_open(struct jg_server *srv, int fd);

/* Closes conn immediately (unlinking it from the server's list), logging
 * its in-flight request as "aborted".  Used at shutdown. */
void jg_conn_abort(struct jg_conn *conn);

#endif
